"""The restart schedule: exponential backoff with a cap, as a pure function.

The first restart of a miner waits ``base`` seconds, each further consecutive attempt
doubles the wait, and no wait exceeds ``cap``: with the defaults 5 s, 10 s, 20 s, ...,
5 min, 5 min. A miner that recovers starts again at ``base``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delay before the n-th consecutive restart attempt (n counts from 1)."""

    base: float = 5.0
    cap: float = 300.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.base < 0 or self.cap < 0 or self.factor < 1:
            raise ValueError("backoff needs base >= 0, cap >= 0 and factor >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart attempt ``attempt`` (1, 2, ...)."""
        if attempt < 1:
            raise ValueError(f"restart attempts count from 1, got {attempt}")
        # Step up to the cap rather than computing base * factor**n: a long outage
        # (large n) must give the cap, not an overflow.
        delay = self.base
        for _ in range(attempt - 1):
            delay *= self.factor
            if delay >= self.cap:
                return self.cap
        return min(delay, self.cap)

    def schedule(self, attempts: int) -> list[float]:
        """The delays of the first ``attempts`` restarts, for display and tests."""
        return [self.delay(n) for n in range(1, attempts + 1)]
