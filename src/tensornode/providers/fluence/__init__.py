"""Fluence: the REST client (``client.py``) and the provider (``provider.py``)."""

from __future__ import annotations

from tensornode.config import Settings
from tensornode.providers.fluence.client import FluenceClient
from tensornode.providers.fluence.provider import FluenceProvider
from tensornode.providers.ssh_host import SSHConnector


def fluence_provider(settings: Settings) -> FluenceProvider:
    """The ``fluence`` provider from settings (API key, SSH key and pins in the data dir)."""
    return FluenceProvider(
        FluenceClient.from_settings(settings.fluence),
        SSHConnector.from_settings(settings),
        settings.fluence,
    )


__all__ = ["FluenceClient", "FluenceProvider", "fluence_provider"]
