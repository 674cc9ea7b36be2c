"""The runtime seam: how a miner runs on a Host.

``builtin`` starts ``tensornode miner serve``; ``docker`` builds and runs a Dockerfile.
The coordinator drives a deployment through ``build`` then ``start``, then waits for the
miner's ``/health`` itself; ``stop`` and ``is_running`` work from the persisted
:class:`RunningMiner`, so a restarted coordinator can re-adopt what is still running.
Runtimes register in :data:`tensornode.runtimes.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol

from tensornode.providers.base import Host, OutputSink


class DeploymentState(StrEnum):
    QUEUED = "queued"
    BUILDING = "building"
    STARTING = "starting"
    HEALTHY = "healthy"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class MinerSpec:
    """What to run: ``builtin`` model specs for ``miner serve --model``, or a Dockerfile."""

    runtime: Literal["builtin", "docker"]
    port: int = 3000  # the port the miner listens on inside the VM / container
    models: tuple[str, ...] = ("llm=tiny",)  # builtin only
    dockerfile: bytes | None = None  # docker only: the Dockerfile's content
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploymentContext:
    deployment_id: str
    vm_id: str
    spec: MinerSpec
    public_port: int  # where the miner is reached on the host's address


@dataclass(frozen=True)
class RunningMiner:
    """Enough to find the miner again after a coordinator restart (stored as JSON)."""

    runtime: str
    handle: str  # builtin: the pid; docker: the container name
    endpoint: str  # http://address:public_port
    # where the miner's output goes, relative to the host's workdir (builtin); None where
    # the runtime keeps logs itself (docker: ``docker logs``)
    log_path: str | None = None


class Runtime(Protocol):
    name: str

    async def build(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> None:
        """Prepare what ``start`` needs (docker: build the image). Raises RuntimeFailure."""
        ...

    async def start(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> RunningMiner:
        """Start the miner detached; do not wait for health. Raises RuntimeFailure."""
        ...

    async def stop(self, host: Host, running: RunningMiner) -> None:
        """Stop the miner; no error if it is already gone."""
        ...

    async def is_running(self, host: Host, running: RunningMiner) -> bool: ...

    async def logs(self, host: Host, running: RunningMiner, *, tail_lines: int = 200) -> str: ...
