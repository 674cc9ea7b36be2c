"""The validator's scores as the router's :class:`~tensornode.gateway.routing.ScoreSource`.

Each miner's total (``0.4·quality + 0.3·speed + 0.2·availability + 0.1·participation``)
over the last ``score_window_s``, computed by the validator's own
:func:`~tensornode.scoring.network.scores.window_scores` from the stored evidence, so routing
and rewards rank miners alike. The computation reads many rows, so it runs at most every
``score_refresh_s`` in a worker thread on a blocking engine of its own, never on the
event loop that serves requests; until it first succeeds (and for miners it has no
evidence about) every miner weighs the same. A failure keeps the last scores.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

from tensornode.config import Settings
from tensornode.db.models import utcnow
from tensornode.db.session import Database

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


class ValidatorScores:
    """Per-miner validator totals in [0, 1], refreshed in the background of requests."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._scores: dict[str, float] = {}
        self._computed_at: float | None = None
        self._engine: Engine | None = None
        self._running: asyncio.Task[None] | None = None
        # held by the worker thread while it uses the engine, so close() can wait for it:
        # cancelling the awaiting task does not stop the thread
        self._engine_lock = threading.Lock()
        self._closed = False

    async def scores(self) -> Mapping[str, float]:
        """The latest totals; starts a recomputation when they are older than allowed."""
        now = self.clock()
        stale = self._computed_at is None or (
            now - self._computed_at >= self.settings.gateway.score_refresh_s
        )
        if stale and (self._running is None or self._running.done()):
            self._computed_at = now
            self._running = asyncio.get_running_loop().create_task(self._refresh())
        return self._scores

    async def refresh_now(self) -> Mapping[str, float]:
        """Recompute the scores at once (tests, benchmarks: right after a round)."""
        self._computed_at = self.clock()
        self._scores = await asyncio.to_thread(self._compute)
        return self._scores

    async def _refresh(self) -> None:
        try:
            self._scores = await asyncio.to_thread(self._compute)
        except Exception as exc:  # keep routing on the last scores
            log.warning("gateway: reading validator scores failed: %s", exc, exc_info=exc)

    def _compute(self) -> dict[str, float]:
        from tensornode.ledger.database import sync_engine

        with self._engine_lock:
            if self._closed:
                return self._scores
            if self._engine is None:
                self._engine = sync_engine(self.db.url)
            return self._compute_with(self._engine)

    def _compute_with(self, engine: Engine) -> dict[str, float]:
        from tensornode.ledger.database import session_factory
        from tensornode.scoring.factory import subnet_from_settings
        from tensornode.scoring.network.scores import window_scores

        end = utcnow()
        start = end - timedelta(seconds=self.settings.gateway.score_window_s)
        totals: dict[str, float] = {}
        with session_factory(engine)() as session:
            for name in self.settings.validator.subnets:
                weights = subnet_from_settings(name, self.settings.validator).weights
                scored = window_scores(session, name, start, end, weights, list_active=False)
                totals.update({m: s.total for m, s in scored.scores.items()})
        return totals

    async def close(self) -> None:
        if self._running is not None:
            self._running.cancel()
            await asyncio.gather(self._running, return_exceptions=True)
        await asyncio.to_thread(self._dispose)

    def _dispose(self) -> None:
        with self._engine_lock:  # waits for a computation still running in its thread
            self._closed = True
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
