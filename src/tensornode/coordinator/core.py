"""The coordinator without HTTP: where its parts are built and wired, once per process.

``Coordinator`` is what the FastAPI app, the monitor and ``tensornode up`` share. It
builds each service with exactly what that service needs (the database, the providers
and runtimes, the HTTP client, its settings section) and holds them: ``coordinator.vms``,
``.deployments``, ``.miners``, all callable from plain asyncio code. No service holds
the coordinator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import httpx

from tensornode.config import Settings
from tensornode.coordinator.jobs import JobRunner
from tensornode.coordinator.machines import Machines
from tensornode.coordinator.recovery import recover
from tensornode.coordinator.services.deployments import DeploymentService
from tensornode.coordinator.services.events import DeploymentEvents
from tensornode.coordinator.services.miners import MinerService
from tensornode.coordinator.services.pipeline import Pipeline
from tensornode.coordinator.services.vm_exec import VMExecService
from tensornode.coordinator.services.vms import VMService
from tensornode.db.session import Database
from tensornode.net.signing import RequestSigner
from tensornode.providers.base import Provider
from tensornode.runtimes.base import Runtime

log = logging.getLogger(__name__)


class Coordinator:
    """The coordinator's parts, built once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        providers: Mapping[str, Provider] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.db = db or Database.from_settings(settings)
        self.machines = Machines.from_settings(settings, providers=providers, runtimes=runtimes)
        self.http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.jobs = JobRunner()
        self.events = DeploymentEvents(self.db, settings.ensure_data_dir() / "deployments")
        pipeline = Pipeline(
            self.db,
            self.machines,
            self.events,
            self.http,
            settings.coordinator,
            dev_mode=settings.dev_mode,
        )
        self.deployments = DeploymentService(pipeline, self.jobs)
        self.vms = VMService(self.db, self.machines, settings.coordinator, self.deployments)
        # signs every request the network sends to miners (net/signing.py)
        self.signer = RequestSigner.load_or_create(settings.ensure_data_dir())
        self.miners = MinerService(
            self.db, self.http, allow_private=settings.dev_mode, signer=self.signer
        )
        self.vm_exec = VMExecService(
            self.db, self.machines, settings.ssh, dev_mode=settings.dev_mode
        )

    async def start(self) -> None:
        """Refuse unsafe production settings, migrate the database and re-adopt what a
        previous run left (see recovery.py)."""
        self.settings.check_production()
        await asyncio.to_thread(self.db.migrate)
        await recover(self.deployments)

    async def close(self) -> None:
        """Cancel jobs and release connections; miners keep running for the next start."""
        await self.jobs.shutdown()
        await self.machines.close()
        await self.http.aclose()
        await self.db.dispose()
