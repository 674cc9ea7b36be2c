"""The in-process validator: every ``validator.round_interval_s``, one round per
configured subnet against the registry's active miners, graded and stored as the
coordinator's own validator account, with evidence graded from the gateway's sampled
user traffic (:mod:`tensornode.scoring.traffic`). ``await loop.run_once()`` is one pass
(burst mode).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from tensornode.periodic import Periodic
from tensornode.scoring.factory import round_options
from tensornode.scoring.network.schemas import RoundPublic
from tensornode.scoring.round import run_round
from tensornode.scoring.schemas import MinerTarget, RoundResult
from tensornode.scoring.traffic import TrafficOptions, best_references, grade_traffic

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
                bank=self.runtime.bank,
            )
            result = await self._with_traffic(result, targets)
            stored.append(
                await service.record_round(
                    service.own_account, result, seed=seed, source="in-process"
                )
            )
        return stored

    async def _with_traffic(
        self, result: RoundResult, targets: Sequence[MinerTarget]
    ) -> RoundResult:
        """The round plus evidence graded from sampled user traffic (:mod:`...traffic`)."""
        sampler = self.runtime.traffic
        if sampler is None or not len(sampler):
            return result
        known = {t.miner_id for t in targets}
        samples = [s for s in sampler.take(self.settings.traffic_per_round) if s.miner_id in known]
        options = TrafficOptions(
            references=self.settings.traffic_references,
            timeout=self.settings.timeout_s,
            evidence_chars=self.settings.evidence_chars,
        )
        references = best_references(result.evidence, targets, options.reference_pass_share)
        graded = await grade_traffic(
            result.round_id,
            samples,
            references,
            client=self.runtime.probe_client,
            embedder=self.runtime.embedder(),
            options=options,
        )
        return replace(result, evidence=result.evidence + tuple(graded))

    def start(self) -> None:
        self._periodic.start()

    async def close(self) -> None:
        await self._periodic.close()
