"""The monitor in the coordinator app: built with the app, run by its lifespan, ``/metrics``.

``build_app`` calls :func:`attach_monitor` once (the monitor lives on
``app.state.monitor``, its metrics on a registry of its own) and enters
:func:`monitor_running` in its lifespan, which starts the loop unless
``settings.monitor.enabled`` is false and stops it on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request, Response

from tensornode.monitor.coordinator_fleet import CoordinatorFleet
from tensornode.monitor.monitor import Monitor

if TYPE_CHECKING:
    from tensornode.coordinator.core import Coordinator

router = APIRouter(tags=["meta"])


def attach_monitor(app: FastAPI, core: Coordinator) -> Monitor:
    """Build the app's monitor (not started) on the coordinator's HTTP client."""
    monitor = Monitor(CoordinatorFleet(core), core.settings.monitor, client=core.http)
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
    """Prometheus metrics of the monitor (text exposition format)."""
    monitor: Monitor = request.app.state.monitor
    return Response(monitor.metrics.render(), media_type=monitor.metrics.content_type)
