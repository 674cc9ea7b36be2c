"""The ``ssh`` provider: servers their owners already have, reached over SSH.

Each configured host (``TENSORNODE_SSH_PROVIDER__HOSTS``: name, host, port, user, key,
the configuration slug and price it is offered as) holds one VM at a time: ``create``
takes a free host of the asked configuration, checks that it can log in (so a refused
key or a closed port fails the request at once, saying what to fix) and records the VM
in ``data_dir/ssh-vms.json``. ``stop`` kills what the VM started there (its detached
processes and the containers labelled with its workdir); ``terminate`` also removes the
workdir and frees the host. The VM is active as long as it is not stopped or terminated:
the server itself is not ours to switch off.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import uuid
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from pathlib import Path

from tensornode.config import Settings, SSHHostSettings
from tensornode.errors import Conflict, InvalidInput, NotFound, ProviderError
from tensornode.providers.base import Configuration, PortSpec, ProvisionedVM, VMSpec, VMStatus
from tensornode.providers.local_host import atomic_write
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget

log = logging.getLogger(__name__)

NATIVE_STATUS: dict[str, VMStatus] = {
    "Active": VMStatus.ACTIVE,
    "Stopped": VMStatus.STOPPED,
    "Terminated": VMStatus.TERMINATED,
}
"""The ssh provider's own VM states (named as Fluence's) and what they mean to us."""

HALT_SCRIPT = (
    'for f in .tensornode/pids/*; do [ -e "$f" ] || continue; '
    'kill -KILL -"${f##*/}" 2>/dev/null; rm -f "$f"; done; '
    "if command -v docker >/dev/null 2>&1; then "
    "ids=$(docker ps -aq --filter label=tensornode.workdir=$TN_WORKDIR) && "
    '{ [ -z "$ids" ] || docker rm -f $ids; }; fi'
)
"""Kill the VM's detached processes and remove its containers (run in its workdir)."""


@dataclass(frozen=True)
class _Record:
    id: str
    host: str  # the configured host's name
    name: str
    state: str
    open_ports: list[tuple[int, str]]


class SSHProvider:
    """VMs on configured SSH hosts (see the module docstring)."""

    name = "ssh"

    def __init__(
        self, hosts: list[SSHHostSettings], connector: SSHConnector, records: Path
    ) -> None:
        names = [h.name for h in hosts]
        if len(set(names)) != len(names):
            raise InvalidInput("ssh provider: host names must be unique")
        self.hosts = {h.name: h for h in hosts}
        self.connector = connector
        self.records_path = records
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SSHProvider:
        return cls(
            settings.ssh_provider.hosts,
            SSHConnector.from_settings(settings),
            settings.ensure_data_dir() / "ssh-vms.json",
        )

    async def configurations(self) -> list[Configuration]:
        """One configuration per slug the hosts are offered as (the cheapest host's price)."""
        offered: dict[str, Configuration] = {}
        for h in self.hosts.values():
            config = Configuration(
                h.configuration, h.vcpus, h.ram_gb, h.storage_gb, h.price_per_epoch_usd
            )
            known = offered.get(h.configuration)
            if known is None or config.price_per_epoch_usd < known.price_per_epoch_usd:
                offered[h.configuration] = config
        return list(offered.values())

    async def create(self, spec: VMSpec) -> ProvisionedVM:
        """Take a free host of ``spec.configuration`` and check we can log in to it."""
        async with self._lock:
            records = self._load()
            busy = {r.host for r in records.values() if r.state != "Terminated"}
            server = self._free_host(spec, busy)
            vm_id = f"ssh-{uuid.uuid4().hex[:12]}"
            ports = [(p.port, p.protocol) for p in spec.open_ports]
            record = _Record(vm_id, server.name, spec.name, "Active", ports)
            host = self._host(record)
            probe = await host.run(["uname", "-sm"], timeout=30)
            if probe.exit_code != 0:
                raise ProviderError(f"host {server.name}: `uname` failed: {probe.output[-200:]}")
            records[vm_id] = record
            self._save(records)
        log.info("ssh VM created", extra={"vm_id": vm_id, "host": server.name})
        return self._provisioned(record)

    def _free_host(self, spec: VMSpec, busy: set[str]) -> SSHHostSettings:
        candidates = [h for h in self.hosts.values() if h.configuration == spec.configuration]
        cap = spec.max_price_per_epoch_usd
        if cap is not None:
            candidates = [h for h in candidates if h.price_per_epoch_usd <= cap]
        free = [h for h in candidates if h.name not in busy]
        if not free:
            why = "all in use" if candidates else "none configured within the constraints"
            raise InvalidInput(
                f"No suitable offer found: no free SSH host of configuration "
                f"{spec.configuration!r} ({why}); terminate a VM or add a host to "
                "TENSORNODE_SSH_PROVIDER__HOSTS",
                status=422,
            )
        return free[0]

    async def query(self, provider_vm_id: str) -> ProvisionedVM:
        return self._provisioned(self._record(provider_vm_id))

    async def stop(self, provider_vm_id: str) -> None:
        record = self._record(provider_vm_id)
        if record.state == "Terminated":
            raise Conflict(f"VM {provider_vm_id} is terminated")
        await self._halt(record)
        await self._set_state(record, "Stopped")

    async def terminate(self, provider_vm_id: str) -> None:
        """Stop the VM's miner, remove its workdir, free the host; twice is harmless."""
        record = self._record(provider_vm_id)
        if record.state == "Terminated":
            return
        await self._halt(record)
        host = self._host(record)
        # commands start in the workdir: leave it, then remove it
        removed = await host.run(["sh", "-c", 'd=$PWD; cd / && rm -rf -- "$d"'], timeout=120)
        if removed.exit_code != 0:
            raise ProviderError(f"VM {record.id}: cannot remove its workdir: {removed.output}")
        await self._set_state(record, "Terminated")

    def host(self, vm: ProvisionedVM) -> SSHHost:
        record = self._record(vm.provider_vm_id)
        if record.state != "Active":
            status = NATIVE_STATUS[record.state].value
            raise Conflict(f"VM {vm.provider_vm_id} is {status}, not active")
        return self._host(record)

    async def close(self) -> None:
        await self.connector.close()

    # -- internals --------------------------------------------------------------------

    def _host(self, record: _Record) -> SSHHost:
        server = self.hosts.get(record.host)
        if server is None:
            raise ProviderError(f"VM {record.id}: host {record.host!r} is no longer configured")
        target = SSHTarget(server.host, server.port, server.user, server.key_path)
        workdir = f"{server.workdir.rstrip('/')}/{record.id}"
        return SSHHost(record.id, self.connector, target, address=server.host, workdir=workdir)

    async def _halt(self, record: _Record) -> None:
        host = self._host(record)
        script = f"TN_WORKDIR={shlex.quote(host.workdir)}; {HALT_SCRIPT}"
        result = await host.run(["sh", "-c", script], timeout=120)
        if result.exit_code != 0:
            raise ProviderError(f"VM {record.id}: cannot stop what runs on it: {result.output}")

    async def _set_state(self, record: _Record, state: str) -> None:
        async with self._lock:
            records = self._load()
            records[record.id] = replace(record, state=state)
            self._save(records)

    def _record(self, vm_id: str) -> _Record:
        record = self._load().get(vm_id)
        if record is None:
            raise NotFound(f"VM {vm_id} not found")
        return record

    def _load(self) -> dict[str, _Record]:
        try:
            raw = json.loads(self.records_path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            path = self.records_path
            raise ProviderError(f"unreadable ssh provider records {path}: {exc}") from None
        records = {}
        for row in raw:
            if row["state"] not in NATIVE_STATUS:
                raise ProviderError(f"VM {row['id']}: unknown ssh VM state {row['state']!r}")
            ports = [(int(p), str(proto)) for p, proto in row["open_ports"]]
            records[row["id"]] = _Record(row["id"], row["host"], row["name"], row["state"], ports)
        return records

    def _save(self, records: dict[str, _Record]) -> None:
        data = json.dumps([asdict(r) for r in records.values()], indent=1).encode()
        atomic_write(self.records_path, data, mode=0o600)

    def _provisioned(self, record: _Record) -> ProvisionedVM:
        status = NATIVE_STATUS[record.state]
        server = self.hosts.get(record.host)
        return ProvisionedVM(
            provider_vm_id=record.id,
            status=status,
            public_ip=server.host if server and status is VMStatus.ACTIVE else None,
            open_ports=tuple(PortSpec(p, proto) for p, proto in record.open_ports),
            price_per_epoch_usd=server.price_per_epoch_usd if server else Decimal(0),
        )
