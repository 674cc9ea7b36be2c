"""Per-caller rate limits: one token bucket per gateway key (or per client IP in dev mode).

A bucket holds ``burst`` tokens (a minute's worth by default) and refills at
``per_min / 60`` tokens a second; a request takes one token or is refused with the
seconds until the next token (the ``Retry-After`` of the 429). Buckets live in memory
(each coordinator replica limits on its own); idle full ones are pruned.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from tensornode.errors import RateLimited

PRUNE_EVERY = 4096
"""Checks between two sweeps of idle buckets."""


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate_per_s``; starts full."""

    capacity: float
    rate_per_s: float
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s

    def full_at(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate_per_s >= self.capacity


class RateLimiter:
    """Token buckets by caller key."""

    def __init__(
        self,
        per_min: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_min = per_min
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._checks = 0

    def check(self, caller: str, per_min: float | None = None) -> None:
        """Count one request of ``caller``; RateLimited (429, Retry-After) when over."""
        now = self.clock()
        bucket = self._buckets.get(caller)
        rate = per_min or self.per_min
        if bucket is None or bucket.rate_per_s != rate / 60.0:
            capacity = float(self.burst or max(1, math.floor(rate)))
            bucket = TokenBucket(capacity, rate / 60.0, capacity, now)
            self._buckets[caller] = bucket
        wait = bucket.take(now)
        self._checks += 1
        if self._checks % PRUNE_EVERY == 0:
            self._prune(now)
        if wait > 0.0:
            raise RateLimited(
                f"rate limit of {rate:g} requests per minute exceeded; retry in {math.ceil(wait)}s",
                retry_after=wait,
            )

    def _prune(self, now: float) -> None:
        for caller in [c for c, b in self._buckets.items() if b.full_at(now)]:
            del self._buckets[caller]
