"""The per-miner health state machine, driven with explicit times (no sleeping)."""

from __future__ import annotations

from tensornode.monitor.backoff import Backoff
from tensornode.monitor.tracker import Event, EventKind, Health, MinerTracker, Policy

POLICY = Policy(unhealthy_after=3, backoff=Backoff(base=5, cap=20), start_timeout_s=60)


def kinds(events: list[Event]) -> list[str]:
    return [e.kind.value for e in events]


def test_unhealthy_only_after_n_consecutive_failed_probes() -> None:
    t = MinerTracker("m1", POLICY)
    assert t.observe(running=True, ok=True, reason=None, now=0) == []
    assert t.observe(running=True, ok=False, reason="/health answered 500", now=1) == []
    assert t.observe(running=True, ok=False, reason="/health answered 500", now=2) == []
    events = t.observe(running=True, ok=False, reason="/health answered 500", now=3)
    assert kinds(events) == ["unhealthy", "restart_scheduled"]
    assert events[0].message == "/health answered 500"
    assert events[1].message == "attempt 1 in 5s"
    assert t.health is Health.UNHEALTHY


def test_a_success_resets_the_failure_count() -> None:
    t = MinerTracker("m1", POLICY)
    for now in (1, 2):
        t.observe(running=True, ok=False, reason="x", now=now)
    t.observe(running=True, ok=True, reason=None, now=3)
    for now in (4, 5):
        assert t.observe(running=True, ok=False, reason="x", now=now) == []
    assert t.health is Health.HEALTHY


def test_a_dead_process_is_unhealthy_at_once_and_restarted_after_the_backoff() -> None:
    t = MinerTracker("m1", POLICY)
    t.observe(running=True, ok=True, reason=None, now=0)
    events = t.observe(running=False, ok=False, reason=None, now=10)
    assert kinds(events) == ["unhealthy", "restart_scheduled"]
    assert events[0].message == "the miner's process is not running"
    assert not t.restart_due(14)
    assert t.restart_due(15)
    assert kinds(t.restarted(ok=True, detail="100 -> 200", now=15)) == ["restarted"]
    assert t.health is Health.RESTARTING
    # starting up: failed probes within the start timeout are expected
    assert t.observe(running=True, ok=False, reason="refused", now=16) == []
    events = t.observe(running=True, ok=True, reason=None, now=20)
    assert kinds(events) == ["recovered"]
    assert events[0].message == "healthy again after 1 restart(s)"
    assert t.restarts_total == 1
    assert t.restart_attempts == 0


def test_failed_restarts_back_off_and_then_give_up() -> None:
    policy = Policy(unhealthy_after=1, backoff=Backoff(base=5, cap=20), max_restarts=3)
    t = MinerTracker("m1", policy)
    t.observe(running=False, ok=False, reason=None, now=0)
    delays = []
    now = 0.0
    outcome: list[str] = []
    for _ in range(3):
        while not t.restart_due(now):
            now += 1
        delays.append(now)
        outcome = kinds(t.restarted(ok=False, detail="port in use", now=now))
    assert delays == [5, 15, 35]  # 5, then 10 and 20 more seconds
    assert outcome == ["restart_failed", "gave_up"]
    assert t.health is Health.GAVE_UP
    assert not t.restart_due(10_000)
    assert t.observe(running=False, ok=False, reason=None, now=10_001) == []


def test_a_restarted_miner_that_never_heals_is_restarted_again_with_a_longer_wait() -> None:
    t = MinerTracker("m1", POLICY)
    t.observe(running=False, ok=False, reason=None, now=0)
    t.restarted(ok=True, detail="1 -> 2", now=5)
    assert t.observe(running=True, ok=False, reason="refused", now=64) == []
    events = t.observe(running=True, ok=False, reason="refused", now=65)
    assert kinds(events) == ["unhealthy", "restart_scheduled"]
    assert events[0].message == "not healthy 60s after restart (refused)"
    assert events[1].message == "attempt 2 in 10s"


def test_an_external_miner_is_never_restarted() -> None:
    t = MinerTracker("m1", POLICY, restartable=False)
    events = t.observe(running=True, ok=False, reason="x", now=0)
    events += t.observe(running=True, ok=False, reason="x", now=1)
    events += t.observe(running=True, ok=False, reason="x", now=2)
    assert kinds(events) == ["unhealthy"]
    assert not t.restart_due(1_000)
    assert kinds(t.observe(running=True, ok=True, reason=None, now=3)) == ["recovered"]


def test_event_kinds_fit_the_event_log_column() -> None:
    assert all(len(kind.value) <= 20 for kind in EventKind)
