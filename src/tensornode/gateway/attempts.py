"""One user request's tries across miners: which miner next, how long each try may take,
and the error to answer when none of them answered.

Plain answers (service.py) and streams (streaming.py) fail over the same way: up to
``max_attempts`` miners, each never tried before for this request, all within
``deadline_s``; a try gets ``attempt_timeout_s`` or what is left of the deadline. What
counts as a failure, and what a failure does to the miner's breaker, is failover.py's.

    attempts = Attempts(pool, metrics, config, clock, model_type)
    while (candidate := await attempts.next()) is not None:
        started = perf_counter()
        try:
            answer = await try_one(candidate, timeout=attempts.timeout())
        except AttemptFailed as failure:
            attempts.failed(failure, started)
            continue
        attempts.answered(started)
        return answer
    raise attempts.exhausted()
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tensornode.config import GatewaySettings
from tensornode.errors import ServiceUnavailable, UpstreamError
from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.pool import CandidatePool, NoCandidate
from tensornode.gateway.recorder import GatewayMetrics
from tensornode.gateway.routing import MinerCandidate

perf_counter = time.perf_counter


class Attempts:
    """The failover state of one request (see the module docstring)."""

    __slots__ = (
        "_clock", "_config", "_left", "_metrics", "_over", "_pool",
        "deadline", "last", "model_type", "tried", "waited",
    )  # fmt: skip

    def __init__(
        self,
        pool: CandidatePool,
        metrics: GatewayMetrics,
        config: GatewaySettings,
        clock: Callable[[], float],
        model_type: str,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._config = config
        self._clock = clock
        self.model_type = model_type
        self.deadline = clock() + config.deadline_s
        self.tried: set[str] = set()
        self.waited = 0.0  # seconds spent on miners' tries so far
        self.last: AttemptFailed | None = None
        self._left = config.max_attempts
        self._over = False

    async def next(self) -> MinerCandidate | None:
        """The next miner to try, or None when no more tries are allowed or possible;
        ServiceUnavailable (counted) when no miner serves the type or all are busy."""
        if self._over or self._left <= 0:
            return None
        self._left -= 1
        pool, tried = self._pool, self.tried
        try:
            candidate = pool.take(self.model_type, exclude=tried) or await pool.acquire(
                self.model_type, exclude=tried, deadline=self.deadline
            )
        except NoCandidate:
            return None
        except ServiceUnavailable:
            self._metrics.rejected.labels("no_miner" if not tried else "busy").inc()
            raise
        tried.add(candidate.miner_id)
        return candidate

    def timeout(self) -> float:
        """How long the try about to start may take."""
        return max(0.001, min(self._config.attempt_timeout_s, self.deadline - self._clock()))

    def failed(self, failure: AttemptFailed, started: float) -> None:
        """The try started at ``started`` (perf_counter) failed; past the deadline, no more."""
        self.waited += perf_counter() - started
        self.last = failure
        if self._clock() >= self.deadline:
            self._over = True

    def answered(self, started: float) -> None:
        """The try started at ``started`` answered."""
        self.waited += perf_counter() - started

    def exhausted(self) -> ServiceUnavailable | UpstreamError:
        """The error for a request no miner answered (counted as failed)."""
        self._metrics.rejected.labels("failed").inc()
        last, tried = self.last, len(self.tried)
        if last is None:
            return ServiceUnavailable(
                f"every miner serving {self.model_type!r} is cooling down after failures",
                retry_after=self._config.breaker_cooldown_s,
            )
        if last.timeout:
            return UpstreamError(
                f"no miner answered in time ({tried} tried): {last.reason}", status=504
            )
        return UpstreamError(f"no miner could answer ({tried} tried); last: {last.reason}")
