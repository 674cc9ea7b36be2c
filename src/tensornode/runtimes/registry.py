"""Runtimes by name: ``registry[name](settings)`` builds one."""

from __future__ import annotations

from collections.abc import Callable

from tensornode.config import Settings
from tensornode.runtimes.base import Runtime
from tensornode.runtimes.builtin import BuiltinRuntime
from tensornode.runtimes.docker import DockerRuntime

registry: dict[str, Callable[[Settings], Runtime]] = {
    "builtin": BuiltinRuntime.from_settings,
    "docker": DockerRuntime.from_settings,
}
