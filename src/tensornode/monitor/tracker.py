"""The health state machine of one miner, as pure logic (no I/O, time passed in).

::

    unknown ──ok──────────────────────────────► healthy
    healthy ──N failed probes, or process gone──► unhealthy ──► restart scheduled (backoff)
    unhealthy ──backoff elapsed──► restarting ──ok──► healthy ("recovered")
    restarting ──start timeout, or process gone──► unhealthy (next attempt, longer backoff)
    unhealthy ──max restarts reached──► gave_up (probed, never restarted again)

Each call of :meth:`MinerTracker.observe` takes one observation (process alive? probe
ok?) and returns the events to record; :meth:`MinerTracker.restart_due` says when the
caller should restart, and :meth:`MinerTracker.restarted` records the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tensornode.monitor.backoff import Backoff


class Health(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    RESTARTING = "restarting"
    GAVE_UP = "gave_up"


class EventKind(StrEnum):
    """What the monitor logs about a miner; shown by the API and the dashboard."""

    UNHEALTHY = "unhealthy"
    RESTART_SCHEDULED = "restart_scheduled"
    RESTARTED = "restarted"
    RESTART_FAILED = "restart_failed"
    RECOVERED = "recovered"
    GAVE_UP = "gave_up"


@dataclass(frozen=True)
class Event:
    kind: EventKind
    message: str


@dataclass(frozen=True)
class Policy:
    """When a miner is unhealthy and how restarts are paced."""

    unhealthy_after: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    start_timeout_s: float = 120.0
    max_restarts: int = 20  # consecutive attempts without recovery; 0 means never give up

    def __post_init__(self) -> None:
        if self.unhealthy_after < 1:
            raise ValueError("unhealthy_after must be at least 1")


@dataclass
class MinerTracker:
    """What the monitor remembers about one miner between probes."""

    miner_id: str
    policy: Policy
    restartable: bool = True  # False for external miners: transitions only, no restarts
    health: Health = Health.UNKNOWN
    consecutive_failures: int = 0
    restart_attempts: int = 0  # consecutive, reset on recovery
    restarts_total: int = 0
    _restart_at: float | None = None
    _restarted_at: float | None = None

    def observe(self, *, running: bool, ok: bool, reason: str | None, now: float) -> list[Event]:
        """Take one observation; return the transitions it caused."""
        if running and ok:
            return self._healthy_probe()
        self.consecutive_failures += 1
        why = reason or "health probe failed"
        if not running:
            why = "the miner's process is not running"
        if self.health is Health.GAVE_UP:
            return []
        if self.health is Health.RESTARTING:
            started_for = now - (self._restarted_at if self._restarted_at is not None else now)
            if running and started_for < self.policy.start_timeout_s:
                return []  # still starting: failures are expected until it has loaded
            if running:
                why = f"not healthy {started_for:.0f}s after restart ({why})"
            return self._become_unhealthy(why, now)
        if self.health is Health.UNHEALTHY:
            return self._schedule_restart(now) if self._restart_at is None else []
        if not running or self.consecutive_failures >= self.policy.unhealthy_after:
            return self._become_unhealthy(why, now)
        return []

    def restart_due(self, now: float) -> bool:
        """Whether the caller should restart the miner now."""
        due = self._restart_at
        return self.health is Health.UNHEALTHY and due is not None and now >= due

    def restarted(self, *, ok: bool, detail: str, now: float) -> list[Event]:
        """Record a restart attempt's outcome."""
        self.restart_attempts += 1
        self._restart_at = None
        if ok:
            self.restarts_total += 1
            self.health = Health.RESTARTING
            self._restarted_at = now
            self.consecutive_failures = 0
            message = f"attempt {self.restart_attempts}: {detail}"
            return [Event(EventKind.RESTARTED, message)]
        failed = Event(EventKind.RESTART_FAILED, f"attempt {self.restart_attempts}: {detail}")
        return [failed, *self._schedule_restart(now)]

    @property
    def up(self) -> bool:
        return self.health is Health.HEALTHY

    def _healthy_probe(self) -> list[Event]:
        was = self.health
        self.health = Health.HEALTHY
        self.consecutive_failures = 0
        self._restart_at = None
        self._restarted_at = None
        if was in (Health.UNKNOWN, Health.HEALTHY):
            return []
        attempts = self.restart_attempts
        self.restart_attempts = 0
        after = f" after {attempts} restart(s)" if attempts else ""
        return [Event(EventKind.RECOVERED, f"healthy again{after}")]

    def _become_unhealthy(self, why: str, now: float) -> list[Event]:
        self.health = Health.UNHEALTHY
        self._restarted_at = None
        return [Event(EventKind.UNHEALTHY, why), *self._schedule_restart(now)]

    def _schedule_restart(self, now: float) -> list[Event]:
        if not self.restartable:
            return []
        attempt = self.restart_attempts + 1
        limit = self.policy.max_restarts
        if limit and attempt > limit:
            self.health = Health.GAVE_UP
            self._restart_at = None
            return [Event(EventKind.GAVE_UP, f"after {limit} failed restart attempt(s)")]
        delay = self.policy.backoff.delay(attempt)
        self._restart_at = now + delay
        return [Event(EventKind.RESTART_SCHEDULED, f"attempt {attempt} in {delay:g}s")]
