"""The provider seam: where miners run.

A provider rents VMs (create, query, stop, terminate) and hands out a :class:`Host` for
each, on which runtimes run commands, start long-lived processes and copy files. The
``local`` provider makes this machine the host; ``fluence`` and ``ssh`` reach a remote
host over SSH (:class:`~tensornode.providers.ssh_host.SSHHost`). Providers register in
:data:`tensornode.providers.registry`.

Each provider keeps a module-level dict from its native states to :class:`VMStatus`;
an unknown native state is a :class:`~tensornode.errors.ProviderError`, never a guess.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable


class VMStatus(StrEnum):
    LAUNCHING = "launching"
    ACTIVE = "active"
    STOPPED = "stopped"
    TERMINATED = "terminated"
    FAILED = "failed"


@dataclass(frozen=True)
class PortSpec:
    port: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Configuration:
    """A VM size offered by a provider, priced per 24 h epoch."""

    slug: str  # e.g. "cpu-4-ram-8gb-storage-25gb"
    vcpus: int
    ram_gb: int
    storage_gb: int
    price_per_epoch_usd: Decimal


@dataclass(frozen=True)
class PriceEstimate:
    """What a provider quotes for ``instances`` VMs of a configuration (USD)."""

    total_price_per_epoch_usd: Decimal
    deposit_usd: Decimal
    deposit_epochs: int


@dataclass(frozen=True)
class VMSpec:
    """What a caller asks for."""

    name: str
    configuration: str
    open_ports: tuple[PortSpec, ...] = (PortSpec(22), PortSpec(3000))
    max_price_per_epoch_usd: Decimal | None = None
    ssh_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProvisionedVM:
    """What a provider reports about one VM."""

    provider_vm_id: str
    status: VMStatus
    public_ip: str | None
    open_ports: tuple[PortSpec, ...]
    price_per_epoch_usd: Decimal
    # ports on public_ip that map to the VM's open ports (local provider: a port range)
    port_map: Mapping[int, int] = field(default_factory=dict)
    # what the user should know about the status (e.g. Fluence: "balance low; top it up")
    note: str | None = None


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_code: int
    output: str  # stdout and stderr interleaved, possibly truncated at the head


OutputSink = Callable[[str], Awaitable[None]]
"""Receives each line of a command's output as it is produced."""


@runtime_checkable
class Host(Protocol):
    """A machine that runtimes act on. Paths are on the host, relative to ``workdir``.

    Commands (``run``) and processes (``spawn``) start in ``workdir``; a path that would
    leave it is refused with InvalidInput.
    """

    @property
    def address(self) -> str:
        """The address miners on this host are reached at (public IP)."""
        ...

    @property
    def workdir(self) -> str:
        """This VM's own directory on the host."""
        ...

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 600.0,
        on_output: OutputSink | None = None,
    ) -> CommandResult:
        """Run a command to completion; a timeout kills it and raises RuntimeFailure."""
        ...

    async def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log_path: str
    ) -> int:
        """Start a detached long-lived process writing to ``log_path``; return its pid."""
        ...

    async def is_alive(self, pid: int) -> bool: ...

    async def kill(self, pid: int, *, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; no error if already gone."""
        ...

    async def write_file(self, path: str, data: bytes, *, mode: int = 0o644) -> None: ...

    async def read_file(self, path: str, *, tail_bytes: int | None = None) -> bytes: ...


class Provider(Protocol):
    """Rents VMs. Every call may raise ProviderError with the VM id attached."""

    name: str

    async def configurations(self) -> list[Configuration]: ...

    async def create(self, spec: VMSpec) -> ProvisionedVM: ...

    async def query(self, provider_vm_id: str) -> ProvisionedVM: ...

    async def stop(self, provider_vm_id: str) -> None: ...

    async def terminate(self, provider_vm_id: str) -> None: ...

    def host(self, vm: ProvisionedVM) -> Host: ...
