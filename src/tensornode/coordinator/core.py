"""The coordinator without HTTP: settings, database, providers, runtimes, jobs and services.

``Coordinator`` is what the FastAPI app, the monitor and ``tensornode up`` share; every
service is reachable from it (``coordinator.vms``, ``.deployments``, ``.miners``) and
callable from plain asyncio code.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx

from tensornode.config import Settings
from tensornode.db.session import Database
from tensornode.errors import ConfigurationError
from tensornode.providers.base import Host, Provider, ProvisionedVM
from tensornode.runtimes.base import Runtime

log = logging.getLogger(__name__)


@runtime_checkable
class ClosableProvider(Protocol):
    """A provider holding connections (SSH, an API client) to release at shutdown."""

    async def close(self) -> None: ...


def default_providers(settings: Settings) -> dict[str, Provider]:
    """The configured provider, built from the provider registry."""
    from tensornode.providers.registry import registry

    name = settings.coordinator.provider
    if name not in registry:
        known = ", ".join(sorted(registry))
        raise ConfigurationError(f"unknown provider {name!r} (known: {known})")
    return {name: registry[name](settings)}


def default_runtimes(settings: Settings) -> dict[str, Runtime]:
    """Every registered runtime."""
    from tensornode.runtimes.registry import registry

    return {name: factory(settings) for name, factory in registry.items()}


class Coordinator:
    """Everything the coordinator's services need, built once per process."""

    def __init__(
        self,
        settings: Settings,
        *,
        db: Database | None = None,
        providers: Mapping[str, Provider] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        from tensornode.coordinator.jobs import JobRunner
        from tensornode.coordinator.services.deployments import DeploymentService
        from tensornode.coordinator.services.miners import MinerService
        from tensornode.coordinator.services.vms import VMService

        self.settings = settings
        self.db = db or Database.from_settings(settings)
        self.providers = dict(providers) if providers is not None else default_providers(settings)
        self.runtimes = dict(runtimes) if runtimes is not None else default_runtimes(settings)
        self.http = http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.jobs = JobRunner()
        self.vms = VMService(self)
        self.deployments = DeploymentService(self)
        self.miners = MinerService(self)

    @property
    def default_provider(self) -> str:
        return self.settings.coordinator.provider

    def provider(self, name: str) -> Provider:
        try:
            return self.providers[name]
        except KeyError:
            raise ConfigurationError(f"provider {name!r} is not configured") from None

    def runtime(self, name: str) -> Runtime:
        try:
            return self.runtimes[name]
        except KeyError:
            raise ConfigurationError(f"runtime {name!r} is not available") from None

    async def host(self, provider_name: str, provider_vm_id: str) -> tuple[ProvisionedVM, Host]:
        """The VM as its provider sees it now, and its host."""
        provider = self.provider(provider_name)
        pvm = await provider.query(provider_vm_id)
        return pvm, provider.host(pvm)

    def deployment_log_path(self, deployment_id: str) -> Path:
        path = self.settings.ensure_data_dir() / "deployments"
        path.mkdir(parents=True, exist_ok=True)
        return path / f"{deployment_id}.log"

    async def start(self) -> None:
        """Migrate the database and re-adopt what a previous run left (see recovery.py)."""
        from tensornode.coordinator.recovery import recover

        await asyncio.to_thread(self.db.migrate)
        await recover(self)

    async def close(self) -> None:
        """Cancel jobs and release connections; miners keep running for the next start."""
        await self.jobs.shutdown()
        for provider in self.providers.values():
            if isinstance(provider, ClosableProvider):  # SSH connections, API clients
                await provider.close()
        await self.http.aclose()
        await self.db.dispose()
