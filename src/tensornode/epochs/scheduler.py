"""The epoch scheduler: every ``rewards.settle_interval_s``, settles what is due with
:meth:`EpochService.settle_due` in a worker thread (the ledger is synchronous), on a
ledger ``rewards.ledger`` names (the local one over the coordinator's database, or Hedera,
publishing each report on the score log). Its ``collect(window)`` freezes the
window's scores from the stored evidence (:mod:`tensornode.scoring.network.scores`): every
miner with evidence or health probes in the window and its owner's account, and the
validators that completed rounds in it. ``await scheduler.run_once(now)`` is one pass.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from tensornode.db.models import Miner, utcnow
from tensornode.epochs.clock import EpochWindow
from tensornode.epochs.report import EpochReport, MinerResult
from tensornode.epochs.service import EpochInputs, EpochService
from tensornode.ledger.database import database_errors, session_factory, sync_engine
from tensornode.ledger.registry import build_ledger, build_score_log, close_ledger
from tensornode.periodic import Periodic
from tensornode.scoring.network.models import ValidationRound
from tensornode.scoring.network.scores import window_scores

if TYPE_CHECKING:
    from tensornode.scoring.network.runtime import ValidationRuntime

log = logging.getLogger(__name__)


class EpochScheduler:
    """Settles ended epochs on the clock (see the module docstring)."""

    def __init__(
        self, runtime: ValidationRuntime, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.clock = clock
        self.engine = sync_engine(runtime.db.url)
        self.sessions = session_factory(self.engine)
        self.ledger = build_ledger(self.settings, self.sessions)
        self.score_log = build_score_log(self.settings)
        validator = self.settings.validator
        own = validator.account if self.settings.hedera.operator_id == validator.account else None
        self.service = EpochService(
            self.sessions,
            self.ledger,
            self.settings.rewards,
            self.collect,
            self.score_log,
            own_validator=own if validator.in_process else None,
        )
        self._engine_lock = threading.Lock()
        self._closed = False
        self._periodic = Periodic(
            "tensornode-epochs", self.settings.rewards.settle_interval_s, self.run_once
        )

    async def run_once(self, now: datetime | None = None) -> list[EpochReport]:
        """Settle what is due at ``now`` (default: the clock); the reports settled."""
        return await asyncio.to_thread(self._settle_due, now or self.clock())

    def _settle_due(self, now: datetime) -> list[EpochReport]:
        # the lock lets close() wait for a settlement still running in its worker thread
        # (cancelling the awaiting task does not stop the thread) before disposing
        with self._engine_lock:
            if self._closed:
                return []
            return self.service.settle_due(now)

    def collect(self, window: EpochWindow) -> EpochInputs:
        """The window's frozen miner scores and the validators that completed rounds."""
        rewards = self.settings.rewards
        unpayable = {rewards.pool_account}
        miners: list[MinerResult] = []
        with database_errors("validation"), self.sessions() as session:
            subnets = set(self.settings.validator.subnets) | set(
                session.scalars(
                    select(ValidationRound.subnet)
                    .where(
                        ValidationRound.finished_at >= window.starts_at,
                        ValidationRound.finished_at < window.ends_at,
                    )
                    .distinct()
                )
            )
            for name in sorted(subnets):
                weights = self.runtime.service.subnet(name).weights
                scored = window_scores(
                    session, name, window.starts_at, window.ends_at, weights, list_active=False
                )
                owners: dict[str, str] = {
                    miner_id: owner
                    for miner_id, owner in session.execute(
                        select(Miner.id, Miner.owner_id).where(Miner.id.in_(list(scored.scores)))
                    )
                }
                for miner_id, score in scored.scores.items():
                    owner = owners.get(miner_id)
                    if owner is None or owner in unpayable:
                        log.warning(
                            "epoch %d: miner %s has no payable owner", window.number, miner_id
                        )
                        continue
                    miners.append(MinerResult.from_score(miner_id, owner, score))
            ran_by = set(
                session.scalars(
                    select(ValidationRound.validator_id).where(
                        ValidationRound.finished_at >= window.starts_at,
                        ValidationRound.finished_at < window.ends_at,
                    )
                )
            )
        validators = sorted(ran_by - unpayable)
        return EpochInputs(miners=miners, validators=validators, ran=bool(ran_by))

    def balance(self, account: str) -> int:
        return self.ledger.balance(account)

    def start(self) -> None:
        self._periodic.start()

    async def close(self) -> None:
        await self._periodic.close()
        await asyncio.to_thread(self._dispose)

    def _dispose(self) -> None:
        with self._engine_lock:
            self._closed = True
            close_ledger(self.ledger)
            close_ledger(self.score_log)
            self.engine.dispose()
