"""The ``local`` provider: this machine plays the VM host.

Each VM is a directory ``<data_dir>/vms/<vm id>/`` holding the provider's own record of
it (``vm.json``, written atomically, so a restarted coordinator finds the same VMs, ports
and processes, as a cloud would), the pids of the processes its host started
(``processes.json``) and the work directory runtimes act in (``work/``). Its "public IP"
is 127.0.0.1 and every open port of the VM is mapped to a free host port from the
configured range.

A VM is ``Launching`` for ``launch_seconds`` after creation, then ``Active``. ``stop``
kills every process its host started and every container labelled with its work
directory; ``terminate`` also removes the work directory, keeping the small record so the
VM still reads ``terminated``. Prices are notional (the machine is free): they exist so
price caps behave as they do on Fluence.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import re
import shutil
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tensornode.config import Settings
from tensornode.errors import Conflict, InvalidInput, NotFound, ProviderError
from tensornode.providers.base import Configuration, PortSpec, ProvisionedVM, VMSpec, VMStatus
from tensornode.providers.local_host import LocalHost, atomic_write

log = logging.getLogger(__name__)

NATIVE_STATUS: dict[str, VMStatus] = {
    "Launching": VMStatus.LAUNCHING,
    "Active": VMStatus.ACTIVE,
    "Stopped": VMStatus.STOPPED,
    "Terminated": VMStatus.TERMINATED,
}
"""The local provider's own VM states (named as Fluence's) and what they mean to us."""

CONFIGURATIONS: tuple[Configuration, ...] = (
    Configuration("cpu-2-ram-4gb-storage-25gb", 2, 4, 25, Decimal("0.50")),
    Configuration("cpu-4-ram-8gb-storage-25gb", 4, 8, 25, Decimal("1.00")),
    Configuration("cpu-8-ram-16gb-storage-50gb", 8, 16, 50, Decimal("2.00")),
    Configuration("cpu-16-ram-32gb-storage-100gb", 16, 32, 100, Decimal("4.00")),
)
"""VM sizes on offer, priced in USD per epoch (notional: nothing is really limited)."""

DEFAULT_CONFIGURATION = "cpu-4-ram-8gb-storage-25gb"

ADDRESS = "127.0.0.1"
_VM_ID = re.compile(r"^local-[0-9a-f]{12}$")
_PROTOCOLS = frozenset({"tcp", "udp"})


@dataclass(frozen=True)
class _Record:
    """What ``vm.json`` holds."""

    id: str
    name: str
    configuration: str
    price_per_epoch_usd: str
    state: str
    created_at: str
    active_at: str
    open_ports: list[tuple[int, str]]
    port_map: dict[str, int]  # VM port (as JSON keys are strings) -> host port

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Record:
        return cls(
            id=data["id"],
            name=data["name"],
            configuration=data["configuration"],
            price_per_epoch_usd=data["price_per_epoch_usd"],
            state=data["state"],
            created_at=data["created_at"],
            active_at=data["active_at"],
            open_ports=[(int(p), str(proto)) for p, proto in data["open_ports"]],
            port_map={str(k): int(v) for k, v in data["port_map"].items()},
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _port_is_free(port: int) -> bool:
    """True if nothing listens on ``port`` (checked on all interfaces)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


class LocalProvider:
    """VMs on this machine (see the module docstring)."""

    name = "local"

    def __init__(
        self,
        data_dir: Path,
        *,
        launch_seconds: float = 0.2,
        port_range: tuple[int, int] = (20000, 29999),
    ) -> None:
        if port_range[0] > port_range[1]:
            raise InvalidInput(f"empty port range {port_range[0]}-{port_range[1]}")
        self.root = data_dir / "vms"
        self.launch_seconds = launch_seconds
        self.port_range = port_range
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalProvider:
        local = settings.local_provider
        return cls(
            settings.data_dir,
            launch_seconds=local.launch_seconds,
            port_range=(local.port_range_start, local.port_range_end),
        )

    async def configurations(self) -> list[Configuration]:
        return list(CONFIGURATIONS)

    async def create(self, spec: VMSpec) -> ProvisionedVM:
        """A new VM: InvalidInput (422) if the configuration is unknown or over the cap."""
        config = _configuration(spec.configuration)
        cap = spec.max_price_per_epoch_usd
        if cap is not None and config.price_per_epoch_usd > cap:
            raise InvalidInput(
                f"No suitable offer found: {config.slug} costs {config.price_per_epoch_usd} USD "
                f"per epoch, above the cap of {cap} USD",
                status=422,
            )
        ports = _open_ports(spec.open_ports)
        vm_id = f"local-{uuid.uuid4().hex[:12]}"
        async with self._lock:
            with self._file_lock():
                port_map = self._allocate_ports([p for p, _ in ports])
                created = _now()
                record = _Record(
                    id=vm_id,
                    name=spec.name,
                    configuration=config.slug,
                    price_per_epoch_usd=str(config.price_per_epoch_usd),
                    state="Launching" if self.launch_seconds > 0 else "Active",
                    created_at=created.isoformat(),
                    active_at=(created + timedelta(seconds=self.launch_seconds)).isoformat(),
                    open_ports=ports,
                    port_map={str(k): v for k, v in port_map.items()},
                )
                (self.root / vm_id / "work").mkdir(parents=True, mode=0o700)
                self._save(record)
        log.info("local VM created", extra={"vm_id": vm_id, "port_map": port_map})
        return self._provisioned(record)

    async def query(self, provider_vm_id: str) -> ProvisionedVM:
        return self._provisioned(self._current(provider_vm_id))

    async def stop(self, provider_vm_id: str) -> None:
        """Kill the VM's processes and containers; Conflict if it was terminated."""
        record = self._current(provider_vm_id)
        if record.state == "Terminated":
            raise Conflict(f"VM {provider_vm_id} is terminated")
        await self._halt(record)
        if record.state != "Stopped":
            self._save(replace(record, state="Stopped"))

    async def terminate(self, provider_vm_id: str) -> None:
        """Stop the VM and remove its work directory; terminating twice is harmless."""
        record = self._current(provider_vm_id)
        if record.state == "Terminated":
            return
        await self._halt(record)
        vm_dir = self.root / provider_vm_id
        shutil.rmtree(vm_dir / "work", ignore_errors=False)
        (vm_dir / "processes.json").unlink(missing_ok=True)
        self._save(replace(record, state="Terminated"))

    def host(self, vm: ProvisionedVM) -> LocalHost:
        """The VM's host; Conflict unless the VM is active now."""
        record = self._current(vm.provider_vm_id)
        if record.state != "Active":
            status = NATIVE_STATUS[record.state].value
            raise Conflict(f"VM {vm.provider_vm_id} is {status}, not active")
        return LocalHost(record.id, self.root / record.id, address=ADDRESS)

    # -- internals --------------------------------------------------------------------

    def _vm_dir(self, vm_id: str) -> Path:
        if not _VM_ID.match(vm_id):  # ids become paths: never let one walk out of root
            raise NotFound(f"VM {vm_id} not found")
        return self.root / vm_id

    def _load(self, vm_id: str) -> _Record:
        path = self._vm_dir(vm_id) / "vm.json"
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"VM {vm_id} not found") from None
        except (OSError, ValueError) as exc:
            raise ProviderError(f"VM {vm_id}: unreadable record {path}: {exc}") from None
        record = _Record.from_json(data)
        if record.state not in NATIVE_STATUS:
            raise ProviderError(f"VM {vm_id}: unknown local VM state {record.state!r}")
        return record

    def _current(self, vm_id: str) -> _Record:
        """The record, moved from Launching to Active once its launch time has passed."""
        record = self._load(vm_id)
        if record.state == "Launching" and _now() >= datetime.fromisoformat(record.active_at):
            record = replace(record, state="Active")
            self._save(record)
        return record

    def _save(self, record: _Record) -> None:
        data = json.dumps(asdict(record), indent=1).encode()
        atomic_write(self.root / record.id / "vm.json", data, mode=0o600)

    def _records(self) -> Iterator[_Record]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("local-*/vm.json")):
            yield self._load(path.parent.name)

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Serialise port allocation with other coordinator processes on this machine."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.root / ".lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _allocate_ports(self, vm_ports: list[int]) -> dict[int, int]:
        taken = {
            port
            for record in self._records()
            if record.state != "Terminated"
            for port in record.port_map.values()
        }
        mapping: dict[int, int] = {}
        candidates = iter(range(self.port_range[0], self.port_range[1] + 1))
        for vm_port in vm_ports:
            for port in candidates:
                if port not in taken and _port_is_free(port):
                    mapping[vm_port] = port
                    break
            else:
                raise ProviderError(
                    f"no free host port left in {self.port_range[0]}-{self.port_range[1]}"
                )
        return mapping

    def _provisioned(self, record: _Record) -> ProvisionedVM:
        status = NATIVE_STATUS[record.state]
        return ProvisionedVM(
            provider_vm_id=record.id,
            status=status,
            public_ip=ADDRESS if status is VMStatus.ACTIVE else None,
            open_ports=tuple(PortSpec(p, proto) for p, proto in record.open_ports),
            price_per_epoch_usd=Decimal(record.price_per_epoch_usd),
            port_map={int(k): v for k, v in record.port_map.items()},
        )

    async def _halt(self, record: _Record) -> None:
        """Kill what runs on the VM: its host's processes and its Docker containers."""
        vm_dir = self.root / record.id
        host = LocalHost(record.id, vm_dir, address=ADDRESS)
        await host.kill_all()
        if (vm_dir / "work").is_dir():
            await _remove_containers(host)


async def _remove_containers(host: LocalHost) -> None:
    """Remove containers the docker runtime labelled with this VM's workdir, if any."""
    if shutil.which("docker") is None:
        return
    label = f"label=tensornode.workdir={host.workdir}"
    found = await host.run(["docker", "ps", "-aq", "--filter", label], timeout=60)
    if found.exit_code != 0:
        # no engine: then no container of this VM can be running either
        log.warning(
            "cannot list the VM's containers: %s",
            found.output.strip(),
            extra={"vm_id": host.vm_id},
        )
        return
    ids = found.output.split()
    if ids:
        removed = await host.run(["docker", "rm", "-f", *ids], timeout=120)
        if removed.exit_code != 0:
            raise ProviderError(f"VM {host.vm_id}: cannot remove its containers: {removed.output}")


def _configuration(slug: str) -> Configuration:
    for config in CONFIGURATIONS:
        if config.slug == slug:
            return config
    known = ", ".join(c.slug for c in CONFIGURATIONS)
    raise InvalidInput(
        f"No suitable offer found: unknown configuration {slug!r} (offered: {known})",
        status=422,
    )


def _open_ports(ports: tuple[PortSpec, ...]) -> list[tuple[int, str]]:
    """The VM's open ports, checked, without duplicates, in the order given."""
    seen: dict[int, str] = {}
    for spec in ports:
        if not 1 <= spec.port <= 65535:
            raise InvalidInput(f"port {spec.port} is out of range 1-65535")
        if spec.protocol not in _PROTOCOLS:
            raise InvalidInput(f"port {spec.port}: protocol must be tcp or udp")
        seen.setdefault(spec.port, spec.protocol)
    return list(seen.items())
