"""The coordinator's FastAPI app: ``build_app(settings)``; OpenAPI docs at ``/docs``.

The lifespan migrates the database, re-adopts what a previous run left (recovery.py)
and owns the job runner. Every error is ``{"error": "..."}``: one handler for our
errors, one for validation (422, 400 for malformed JSON), one for HTTP errors (404/405
routes), and a catch-all 500 that logs and says only "internal error".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException

from tensornode import __version__
from tensornode.config import Settings
from tensornode.coordinator.core import Coordinator
from tensornode.coordinator.deps import DEFAULT_RESOLVERS
from tensornode.coordinator.limits import RequestGuard
from tensornode.coordinator.routers import deploy, miners, vm_exec, vm_miner, vms
from tensornode.coordinator.routers.auth import install_auth
from tensornode.coordinator.routers.ui import install_ui
from tensornode.coordinator.server import heap_frozen
from tensornode.coordinator.services.miners import MinerCheckFailed
from tensornode.epochs.routes import attach_epochs
from tensornode.epochs.routes import router as epochs_router
from tensornode.errors import RateLimited, ServiceUnavailable, TensorNodeError
from tensornode.gateway.routes import attach_gateway, gateway_running, serve_chat_routes
from tensornode.gateway.routes import router as gateway_router
from tensornode.monitor.coordinator_fleet import CoordinatorFleet
from tensornode.monitor.routes import attach_monitor, monitor_running
from tensornode.monitor.routes import router as monitor_router
from tensornode.net.signing import HEADER
from tensornode.providers.base import Provider
from tensornode.runtimes.base import Runtime
from tensornode.scoring.network.routes import attach_validation
from tensornode.scoring.network.routes import router as validation_router
from tensornode.scoring.network.runtime import ValidationRuntime, validation_running
from tensornode.scoring.traffic import TrafficSampler

log = logging.getLogger(__name__)
NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""FastAPI's native OpenTelemetry, off: the coordinator's metrics are Prometheus
(``/metrics``), and the check whether a provider is configured cost every request ~15 µs."""


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """One line naming the first bad field; malformed JSON is a 400."""
    errors = list(exc.errors())
    if not errors:
        return 422, "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return 400, "malformed JSON body"
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "body"
    return 422, f"{field}: {first.get('msg', 'invalid')}"


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as ``{"error": ...}``."""

    @app.exception_handler(TensorNodeError)
    async def _ours(_: Request, exc: TensorNodeError) -> JSONResponse:
        extra: dict[str, Any] = {}
        if isinstance(exc, MinerCheckFailed):
            extra["checks"] = exc.failures
        response = _error(exc.status, exc.message, **extra)
        if isinstance(exc, RateLimited | ServiceUnavailable) and exc.retry_after:
            response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = validation_message(exc)
        return _error(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"not found: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"method {request.method} not allowed on {request.url.path}"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal error")


def build_app(
    settings: Settings,
    *,
    providers: Mapping[str, Provider] | None = None,
    runtimes: Mapping[str, Runtime] | None = None,
) -> FastAPI:
    """The coordinator app; providers and runtimes default to the registries."""
    core = Coordinator(settings, providers=providers, runtimes=runtimes)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await core.start()
        try:
            async with (
                monitor_running(monitor),  # the health monitor (monitor/routes.py)
                gateway_running(gateway),  # candidate refresh, metrics flush (gateway/routes.py)
                validation_running(validation),  # validator loop, epoch scheduler
            ):
                with heap_frozen():  # no full GC pass walks the start-up heap (server.py)
                    yield
        finally:
            await core.close()

    app = FastAPI(
        title="TensorNode coordinator",
        version=__version__,
        description="VMs, miner deployments and the miner registry of a TensorNode network.",
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.coordinator = core
    app.state.credential_resolvers = list(DEFAULT_RESOLVERS)
    install_auth(app, core)  # wallet sign-in: /auth routes, session resolver first
    install_error_handlers(app)
    fleet = CoordinatorFleet(core.db, core.machines, core.jobs, core.deployments, core.miners)
    monitor = attach_monitor(app, fleet, settings.monitor, core.http)
    app.include_router(monitor_router)
    # one request key: the gateway and the validator sign requests to miners alike
    traffic = TrafficSampler(settings.validator.traffic_sample_rate)
    gateway = attach_gateway(
        app,
        settings,
        core.db,
        registry=monitor.metrics.registry,
        signer=core.signer,
        sampler=traffic,
    )  # gateway/routes.py
    app.include_router(gateway_router)
    validation = attach_validation(
        app,
        ValidationRuntime(
            settings, core.db, core.http, core.miners, signer=core.signer, traffic=traffic
        ),
    )  # scoring/network/routes.py
    app.include_router(validation_router)
    attach_epochs(app, validation)  # epochs/routes.py
    app.include_router(epochs_router)
    for router in (deploy.router, vms.router, vm_miner.router, vm_exec.router, miners.router):
        app.include_router(router)
    install_ui(app)  # web pages at / and /ui/..., /static
    serve_chat_routes(app)  # the chat endpoints as plain routes, matched first
    app.add_middleware(RequestGuard, settings=settings)  # body/header/depth limits (limits.py)

    @app.get("/health", tags=["meta"])
    async def health() -> dict[str, str]:
        """The coordinator is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/network/key", tags=["meta"])
    async def network_key() -> dict[str, str]:
        """The public key that signs every request the network sends to miners (set it
        as a miner's ``TENSORNODE_MINER__COORDINATOR_KEY`` to refuse relayed requests)."""
        return {"algorithm": "ed25519", "publicKey": core.signer.public_key, "header": HEADER}

    return app
