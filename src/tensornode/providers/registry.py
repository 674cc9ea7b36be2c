"""Providers by name: ``registry[name](settings)`` builds one."""

from __future__ import annotations

from collections.abc import Callable

from tensornode.config import Settings
from tensornode.providers.base import Provider
from tensornode.providers.fluence import fluence_provider
from tensornode.providers.local import LocalProvider
from tensornode.providers.ssh import SSHProvider

registry: dict[str, Callable[[Settings], Provider]] = {
    "local": LocalProvider.from_settings,
    "fluence": fluence_provider,
    "ssh": SSHProvider.from_settings,
}
