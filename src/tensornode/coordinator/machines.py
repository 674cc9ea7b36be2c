"""Where and how miners run: the coordinator's providers (VMs) and runtimes (miners on a
VM's host), looked up by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from tensornode.config import Settings
from tensornode.errors import ConfigurationError
from tensornode.providers.base import Host, Provider, ProvisionedVM
from tensornode.providers.registry import registry as provider_registry
from tensornode.runtimes.base import Runtime
from tensornode.runtimes.registry import registry as runtime_registry


@runtime_checkable
class ClosableProvider(Protocol):
    """A provider holding connections (SSH, an API client) to release at shutdown."""

    async def close(self) -> None: ...


def default_providers(settings: Settings) -> dict[str, Provider]:
    """The configured provider, built from the provider registry."""
    name = settings.coordinator.provider
    if name not in provider_registry:
        known = ", ".join(sorted(provider_registry))
        raise ConfigurationError(f"unknown provider {name!r} (known: {known})")
    return {name: provider_registry[name](settings)}


def default_runtimes(settings: Settings) -> dict[str, Runtime]:
    """Every registered runtime."""
    return {name: factory(settings) for name, factory in runtime_registry.items()}


class Machines:
    """The configured providers and runtimes; new VMs come from ``default_provider``."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        runtimes: Mapping[str, Runtime],
        *,
        default_provider: str,
    ) -> None:
        self.providers = dict(providers)
        self.runtimes = dict(runtimes)
        self.default_provider = default_provider

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        providers: Mapping[str, Provider] | None = None,
        runtimes: Mapping[str, Runtime] | None = None,
    ) -> Machines:
        """The given providers and runtimes, or the registries' for these settings."""
        return cls(
            providers if providers is not None else default_providers(settings),
            runtimes if runtimes is not None else default_runtimes(settings),
            default_provider=settings.coordinator.provider,
        )

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

    async def close(self) -> None:
        """Release the providers' connections (SSH, API clients)."""
        for provider in self.providers.values():
            if isinstance(provider, ClosableProvider):
                await provider.close()

    async def host(self, provider_name: str, provider_vm_id: str) -> tuple[ProvisionedVM, Host]:
        """The VM as its provider sees it now, and its host."""
        provider = self.provider(provider_name)
        pvm = await provider.query(provider_vm_id)
        return pvm, provider.host(pvm)
