"""The monitor against a scripted miner on loopback that starts failing its /health."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from tensornode.config import MonitorSettings
from tensornode.errors import RuntimeFailure
from tensornode.monitor.fleet import MonitoredMiner
from tensornode.monitor.monitor import Monitor
from tensornode.monitor.probe import ProbeResult
from tensornode.monitor.tracker import Event

from .scripted_miner import ScriptedMiner


@dataclass
class ScriptedFleet:
    """A MinerFleet of one scripted miner; a restart makes it healthy (or fails)."""

    miner: ScriptedMiner
    restart_fails: bool = False
    probes: list[ProbeResult] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    restarts: int = 0

    @property
    def monitored(self) -> MonitoredMiner:
        return MonitoredMiner("m1", self.miner.endpoint, True, handle=f"pid{self.restarts}")

    async def monitored_miners(self) -> Sequence[MonitoredMiner]:
        return [self.monitored]

    async def is_running(self, miner: MonitoredMiner) -> bool:
        return True

    async def restart(self, miner: MonitoredMiner) -> MonitoredMiner:
        if self.restart_fails:
            raise RuntimeFailure("the miner exited before answering /health")
        self.restarts += 1
        self.miner.healthy()
        return self.monitored

    async def record_probe(self, miner: MonitoredMiner, probe: ProbeResult) -> None:
        self.probes.append(probe)

    async def record_events(
        self, miner: MonitoredMiner, events: Sequence[Event], *, health: str
    ) -> None:
        self.events += [(e.kind.value, e.message, health) for e in events]


SETTINGS = MonitorSettings(unhealthy_after=3, restart_backoff_s=0, probe_timeout_s=2)


async def test_unhealthy_after_three_failures_then_restarted_and_recovered(
    scripted_miner: ScriptedMiner,
) -> None:
    fleet = ScriptedFleet(scripted_miner)
    monitor = Monitor(fleet, SETTINGS)
    try:
        await monitor.run_once()
        scripted_miner.failing(500)
        await monitor.run_once()
        await monitor.run_once()
        assert fleet.events == []  # two failures are not yet unhealthy
        await monitor.run_once()
        await monitor.run_once()
    finally:
        await monitor.close()
    assert [(kind, health) for kind, _, health in fleet.events] == [
        ("unhealthy", "restarting"),
        ("restart_scheduled", "restarting"),
        ("restarted", "restarting"),
        ("recovered", "healthy"),
    ]
    assert fleet.events[0][1] == "/health answered 500"
    assert fleet.events[2][1] == "attempt 1: pid0 -> pid1"
    assert [p.ok for p in fleet.probes] == [True, False, False, False, True]
    assert scripted_miner.probes == 5
    assert fleet.restarts == 1


async def test_a_failing_restart_is_retried_with_backoff(scripted_miner: ScriptedMiner) -> None:
    scripted_miner.failing(503)
    fleet = ScriptedFleet(scripted_miner, restart_fails=True)
    monitor = Monitor(fleet, SETTINGS.model_copy(update={"unhealthy_after": 1}))
    try:
        await monitor.run_once()
    finally:
        await monitor.close()
    assert [(kind, message) for kind, message, _ in fleet.events] == [
        ("unhealthy", "/health answered 503"),
        ("restart_scheduled", "attempt 1 in 0s"),
        ("restart_failed", "attempt 1: the miner exited before answering /health"),
        ("restart_scheduled", "attempt 2 in 0s"),
    ]
    metrics = monitor.metrics.render().decode()
    assert 'tensornode_miner_restarts_total{outcome="failed"} 1.0' in metrics
    assert 'tensornode_miner_up{miner_id="m1"} 0.0' in metrics


async def test_the_loop_runs_passes_until_closed(scripted_miner: ScriptedMiner) -> None:
    fleet = ScriptedFleet(scripted_miner)
    monitor = Monitor(fleet, SETTINGS.model_copy(update={"interval_s": 0.05}))
    monitor.start()
    try:
        async with asyncio.timeout(30):
            while scripted_miner.probes < 3:
                await asyncio.sleep(0.02)
    finally:
        await monitor.close()
    seen = scripted_miner.probes
    await asyncio.sleep(0.2)
    assert scripted_miner.probes == seen  # no pass after close
