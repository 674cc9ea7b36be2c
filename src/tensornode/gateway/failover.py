"""Failover: the per-miner circuit breaker and which upstream failures retry elsewhere.

A miner that fails ``threshold`` times in a row is *open* (skipped) for a cooldown that
doubles with each opening up to a cap; when the cooldown is over it is *half-open*: the
router gives it exactly one trial request, which closes the breaker on success or opens
it again (for twice as long) on failure. A cancelled trial (the user went away) leaves
the miner ready for another trial.

Upstream outcomes:

- an answer (200 with a usable body): success
- 400, 413, 422 from the miner: the user's input is at fault; passed back, not retried,
  and not held against the miner
- anything else (connection refused or reset, timeout, 404 model not available, 429,
  5xx, an unusable body): the miner failed; the request retries on another miner
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)

CLIENT_ERROR_STATUSES = frozenset({400, 413, 422})
"""Miner statuses that blame the input: answered to the user as they are."""


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class Breaker:
    """Consecutive-failure circuit breaker with exponential cooldown and one-trial probes."""

    threshold: int = 3
    base_cooldown_s: float = 2.0
    cap_s: float = 120.0
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0
    openings: int = 0
    open_until: float = 0.0
    trial_in_flight: bool = False

    def allows(self, now: float) -> bool:
        """Whether the miner may get a request now (a trial, when half-open)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.trial_in_flight:
            return False
        return self.state is BreakerState.HALF_OPEN or now >= self.open_until

    def wants_trial(self, now: float) -> bool:
        """The cooldown is over and no trial is running: the next request probes it."""
        return self.state is not BreakerState.CLOSED and self.allows(now)

    def on_dispatch(self, now: float) -> None:
        """A request goes to the miner; past its cooldown, that request is the trial."""
        if self.state is not BreakerState.CLOSED and self.allows(now):
            self.state = BreakerState.HALF_OPEN
            self.trial_in_flight = True

    def on_success(self) -> None:
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.openings = 0
        self.trial_in_flight = False

    def on_failure(self, now: float) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._open(now)
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self._open(now)

    def on_cancel(self) -> None:
        """The request was abandoned (not the miner's fault): allow another trial."""
        self.trial_in_flight = False

    def _open(self, now: float) -> None:
        cooldown = min(self.cap_s, self.base_cooldown_s * 2.0**self.openings)
        self.openings += 1
        self.failures = 0
        self.trial_in_flight = False
        self.state = BreakerState.OPEN
        self.open_until = now + cooldown


class AttemptFailed(Exception):
    """One attempt on one miner failed in a way another miner may not (retry elsewhere)."""

    def __init__(self, reason: str, *, timeout: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timeout = timeout


def status_failure(status: int, body: bytes) -> AttemptFailed:
    """The failure a non-answer status stands for. The miner's own words go to the log
    only: a reason reaches users, and an endpoint's body is never echoed to them."""
    detail = " ".join(body[:200].decode("utf-8", "replace").split())
    if detail:
        log.info("miner answered HTTP %s: %s", status, detail)
    return AttemptFailed(f"HTTP {status}")
