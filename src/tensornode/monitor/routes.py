"""The monitor in the coordinator app: built with the app, run by its lifespan, ``/metrics``.

``build_app`` calls :func:`attach_monitor` once and enters :func:`monitor_running` in
its lifespan, which starts the loop unless ``settings.monitor.enabled`` is false and stops
it on shutdown. The monitor lives on ``app.state.monitor``. Its metrics go to the app's
own Prometheus registry, ``app.state.metrics_registry``, where other parts (the gateway)
add theirs: ``GET /metrics`` serves everything on it, and two apps never share one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from tensornode.config import MonitorSettings
from tensornode.monitor.fleet import MinerFleet
from tensornode.monitor.metrics import MonitorMetrics
from tensornode.monitor.monitor import Monitor

router = APIRouter(tags=["meta"])


def attach_monitor(
    app: FastAPI, fleet: MinerFleet, settings: MonitorSettings, http: httpx.AsyncClient
) -> Monitor:
    """Build the app's metrics registry and the monitor of ``fleet`` (not started),
    probing with ``http``."""
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    monitor = Monitor(fleet, settings, metrics=MonitorMetrics(registry), client=http)
    app.state.monitor = monitor
    return monitor


@asynccontextmanager
async def monitor_running(monitor: Monitor) -> AsyncIterator[Monitor]:
    """Run the monitor's loop for the duration of the block, if enabled."""
    if monitor.settings.enabled:
        monitor.start()
    try:
        yield monitor
    finally:
        await monitor.close()


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus metrics of this coordinator: the monitor's and the gateway's."""
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
