"""The monitor: probes every miner, keeps their health, restarts the dead ones.

``await monitor.run_once()`` is one pass (burst mode: tests drive it deterministically);
``monitor.start()`` runs passes every ``interval_s`` until ``await monitor.close()``.
Each pass asks the fleet which miners should be up, checks them concurrently (at most
``max_concurrency`` at once, each probe bounded by ``probe_timeout_s``), feeds each
observation to the miner's :class:`~tensornode.monitor.tracker.MinerTracker`, restarts
the miners whose backoff has elapsed, and records probes, transitions and metrics.

A restart runs inside its pass, concurrently with the other miners' checks; the
coordinator's restart waits until the miner is healthy (at most its health deadline),
so a slow restart delays the next pass rather than overlapping it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tensornode.config import MonitorSettings
from tensornode.errors import TensorNodeError
from tensornode.monitor.backoff import Backoff
from tensornode.monitor.fleet import MinerFleet, MonitoredMiner
from tensornode.monitor.metrics import MonitorMetrics
from tensornode.monitor.probe import ProbeResult, probe_health
from tensornode.monitor.tracker import Event, MinerTracker, Policy

logger = logging.getLogger(__name__)

NOT_RUNNING = "the miner's process is not running"


@dataclass(frozen=True)
class PassReport:
    """What one pass saw: miners checked and the transitions it caused."""

    checked: int
    events: dict[str, list[Event]]


def policy_from_settings(settings: MonitorSettings) -> Policy:
    return Policy(
        unhealthy_after=settings.unhealthy_after,
        backoff=Backoff(base=settings.restart_backoff_s, cap=settings.restart_backoff_cap_s),
        start_timeout_s=settings.start_timeout_s,
        max_restarts=settings.max_restarts,
    )


class Monitor:
    """Health probes, uptime accounting and auto-restart for one coordinator."""

    def __init__(
        self,
        fleet: MinerFleet,
        settings: MonitorSettings,
        *,
        metrics: MonitorMetrics | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fleet = fleet
        self.settings = settings
        self.policy = policy_from_settings(settings)
        self.metrics = metrics if metrics is not None else MonitorMetrics()
        self._own_client = client is None
        self._client = client if client is not None else httpx.AsyncClient()
        self._clock = clock
        self._trackers: dict[str, MinerTracker] = {}
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> PassReport:
        """Probe every miner once, restart those due, record everything."""
        miners = await self.fleet.monitored_miners()
        self._forget_absent({m.miner_id for m in miners})
        limit = asyncio.Semaphore(self.settings.max_concurrency)
        outcomes = await asyncio.gather(
            *(self._check(miner, limit) for miner in miners), return_exceptions=True
        )
        events: dict[str, list[Event]] = {}
        for miner, outcome in zip(miners, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancellation and the like are not a miner's fault
                logger.error(
                    "monitor check failed",
                    exc_info=outcome,
                    extra={"miner_id": miner.miner_id},
                )
            elif outcome:
                events[miner.miner_id] = outcome
        return PassReport(checked=len(miners), events=events)

    def start(self) -> None:
        """Run passes in the background until :meth:`close`."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="tensornode-monitor")

    async def run(self) -> None:
        """Run a pass every ``interval_s`` until :meth:`close` is called."""
        while not self._stopping.is_set():
            started = self._clock()
            try:
                await self.run_once()
            except Exception:  # one bad pass (a database hiccup) must not end monitoring
                logger.exception("monitor pass failed")
            await self._sleep(self.settings.interval_s - (self._clock() - started))

    async def close(self) -> None:
        """Stop the loop (if started; a pass in progress is cancelled) and release the
        HTTP client if the monitor made it. Safe to call twice."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
        if self._own_client:
            await self._client.aclose()

    async def _sleep(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await self._stopping.wait()
        except TimeoutError:
            return  # the interval elapsed: time for the next pass

    async def _check(self, miner: MonitoredMiner, limit: asyncio.Semaphore) -> list[Event]:
        async with limit:
            running = await self.fleet.is_running(miner)
            if running:
                probe = await probe_health(
                    self._client,
                    miner.endpoint,
                    timeout=self.settings.probe_timeout_s,
                    nonce=miner.nonce,
                    nonce_required=miner.nonce_required,
                )
            else:
                probe = ProbeResult(
                    ok=False, latency_s=0.0, at=datetime.now(UTC), error=NOT_RUNNING
                )
        if running:
            self.metrics.observe_probe(probe.result, probe.latency_s)
        else:
            self.metrics.observe_probe("not_running", None)
        await self.fleet.record_probe(miner, probe)
        tracker = self._trackers.get(miner.miner_id)
        if tracker is None:
            tracker = MinerTracker(miner.miner_id, self.policy, restartable=miner.restartable)
            self._trackers[miner.miner_id] = tracker
        now = self._clock()
        events = tracker.observe(running=running, ok=probe.ok, reason=probe.error, now=now)
        if tracker.restart_due(now):
            events += await self._restart(miner, tracker)
        self.metrics.set_up(miner.miner_id, tracker.up)
        if events:
            for event in events:
                logger.info(
                    "miner %s: %s",
                    event.kind.value,
                    event.message,
                    extra={"miner_id": miner.miner_id},
                )
            await self.fleet.record_events(miner, events, health=tracker.health.value)
        return events

    async def _restart(self, miner: MonitoredMiner, tracker: MinerTracker) -> list[Event]:
        try:
            restarted = await self.fleet.restart(miner)
        except TensorNodeError as exc:
            self.metrics.restarts.labels(outcome="failed").inc()
            return tracker.restarted(ok=False, detail=exc.message, now=self._clock())
        self.metrics.restarts.labels(outcome="ok").inc()
        detail = f"{miner.handle or '?'} -> {restarted.handle or '?'}"
        return tracker.restarted(ok=True, detail=detail, now=self._clock())

    def _forget_absent(self, present: set[str]) -> None:
        for miner_id in set(self._trackers) - present:
            del self._trackers[miner_id]
            self.metrics.forget(miner_id)
