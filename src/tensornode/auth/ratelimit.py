"""A sliding-window rate limiter for sign-in attempts (per IP and per account), in memory.

Each replica counts its own attempts: behind a load balancer of N replicas an attacker
gets at most N times the limit, which still bounds guessing. The clock is injectable.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from tensornode.errors import RateLimited

_SWEEP_EVERY = 1024  # calls between removals of idle keys, so memory stays bounded


class SlidingWindowLimiter:
    """At most ``limit`` hits per key in any ``window_s`` seconds."""

    def __init__(
        self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._calls = 0

    def hit(self, key: str, what: str) -> None:
        """Count one attempt for ``key``; RateLimited (with Retry-After) past the limit."""
        now = self.clock()
        self._calls += 1
        if self._calls % _SWEEP_EVERY == 0:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1.0, hits[0] + self.window_s - now)
            raise RateLimited(
                f"too many sign-in attempts for {what}: try again in {round(retry_after)} s",
                retry_after=retry_after,
            )
        hits.append(now)

    def _sweep(self, now: float) -> None:
        idle = [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]
        for key in idle:
            del self._hits[key]
