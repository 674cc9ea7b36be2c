"""The in-process validator: every ``validator.round_interval_s``, one round per
configured subnet against the registry's active miners, graded and stored as the
coordinator's own validator account. ``await loop.run_once()`` is one pass (burst mode).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from tensornode.periodic import Periodic
from tensornode.scoring.factory import round_options
from tensornode.scoring.network.schemas import RoundPublic
from tensornode.scoring.round import run_round

if TYPE_CHECKING:
    from tensornode.scoring.network.runtime import ValidationRuntime


class ValidatorLoop:
    """The in-process validator: rounds on an interval against every active miner."""

    def __init__(self, runtime: ValidationRuntime) -> None:
        self.runtime = runtime
        settings = runtime.settings.validator
        self.settings = settings
        self._periodic = Periodic("tensornode-validator", settings.round_interval_s, self.run_once)

    async def run_once(self) -> list[RoundPublic]:
        """One round per configured subnet with miners; the rounds stored."""
        service = self.runtime.service
        stored = []
        for name in self.settings.subnets:
            subnet = service.subnet(name)
            targets = await service.targets(name)
            if not targets:
                continue
            seed = secrets.randbits(128)
            result = await run_round(
                targets,
                subnet,
                rng_seed=seed,
                client=self.runtime.probe_client,
                concurrency=self.settings.concurrency,
                timeout=self.settings.timeout_s,
                embedder=self.runtime.embedder(),
                judge=self.runtime.judge,
                options=round_options(self.settings, subnet),
            )
            stored.append(
                await service.record_round(
                    service.own_account, result, seed=seed, source="in-process"
                )
            )
        return stored

    def start(self) -> None:
        self._periodic.start()

    async def close(self) -> None:
        await self._periodic.close()
