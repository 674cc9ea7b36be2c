"""VMs: configurations and prices, create (with a price cap), list, update, allocate, delete.

Every method checks nothing about the caller: ownership is the API's dependency
(``vm_owned_by_caller``); here ``owner_id`` only scopes lists and new rows.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from decimal import Decimal
from typing import Protocol, runtime_checkable

from sqlalchemy import func, select

from tensornode.config import CoordinatorSettings
from tensornode.contracts.coordinator import (
    Constraints,
    EstimatePublic,
    PortPublic,
    VMPublic,
    VMUpdate,
)
from tensornode.coordinator.machines import Machines
from tensornode.coordinator.services.events import CURRENT_STATES
from tensornode.db.models import VM, Deployment, Miner, utcnow
from tensornode.db.session import Database
from tensornode.errors import Conflict, InvalidInput, NotFound, ProviderError, TensorNodeError
from tensornode.providers.base import (
    Configuration,
    PortSpec,
    PriceEstimate,
    ProvisionedVM,
    VMSpec,
    VMStatus,
)

log = logging.getLogger(__name__)

RESERVED_PORTS = frozenset({10250})
SSH_PORT = 22
DEFAULT_PORTS = (PortSpec(SSH_PORT), PortSpec(3000))
DEPOSIT_EPOCHS = 2


@runtime_checkable
class EstimatingProvider(Protocol):
    """A provider that quotes prices and deposits itself (Fluence's estimate)."""

    async def estimate(
        self, configuration: str, instances: int, cap: Decimal | None
    ) -> PriceEstimate: ...


@runtime_checkable
class UpdatableProvider(Protocol):
    """A provider that can rename a VM or replace its open ports (Fluence's PATCH)."""

    async def update(
        self, provider_vm_id: str, *, name: str | None, open_ports: tuple[PortSpec, ...] | None
    ) -> None: ...


class MinerStopper(Protocol):
    """What stops a VM's miner before the VM goes (the deployment service)."""

    async def stop_vm_miner(self, vm_id: str, *, reason: str, missing_ok: bool) -> object: ...


def normalize_ports(ports: list[PortPublic] | None) -> tuple[PortSpec, ...]:
    """The ports to open: the default set, or the given ones plus 22; 10250 refused."""
    if ports is None:
        return DEFAULT_PORTS
    for p in ports:
        if p.port in RESERVED_PORTS:
            raise InvalidInput(f"port {p.port} is reserved by the provider")
    specs = {(p.port, p.protocol) for p in ports} | {(SSH_PORT, "tcp")}
    return tuple(PortSpec(port, proto) for port, proto in sorted(specs))


def ports_json(ports: tuple[PortSpec, ...]) -> list[dict[str, object]]:
    return [{"port": p.port, "protocol": p.protocol} for p in ports]


def vm_public(vm: VM, deployment: Deployment | None, miner: Miner | None) -> VMPublic:
    """A VM row as the API shows it, with its current deployment and miner."""
    return VMPublic(
        id=vm.id,
        vm_id=vm.id,
        name=vm.name,
        owner=vm.owner_id,
        provider=vm.provider,
        configuration=vm.configuration,
        status=vm.status,
        status_reason=vm.status_reason,
        public_ip=vm.public_ip,
        open_ports=[PortPublic.model_validate(p) for p in vm.open_ports],
        price_per_epoch_usd=vm.price_per_epoch_usd,
        miner_id=miner.id if miner else None,
        endpoint=miner.endpoint if miner else None,
        deployment_state=deployment.state if deployment else None,
        created_at=vm.created_at,
        updated_at=vm.updated_at,
    )


def apply_provisioned(vm: VM, pvm: ProvisionedVM) -> None:
    """Copy what the provider reports onto the row."""
    vm.status = pvm.status.value
    vm.public_ip = pvm.public_ip
    vm.port_map = {str(k): v for k, v in pvm.port_map.items()}
    vm.price_per_epoch_usd = pvm.price_per_epoch_usd
    if pvm.note is not None:
        vm.status_reason = pvm.note


async def refresh_vm(machines: Machines, vm: VM) -> None:
    """Ask a VM's provider about it; on provider trouble keep what we knew and say so."""
    if vm.provider_vm_id is None:
        return
    try:
        pvm = await machines.provider(vm.provider).query(vm.provider_vm_id)
    except TensorNodeError as exc:
        log.warning("VM status refresh failed: %s", exc, extra={"vm_id": vm.id})
        return
    apply_provisioned(vm, pvm)


async def fetch_vm(
    db: Database, machines: Machines, vm_id: str, *, owner_id: str | None = None
) -> VM:
    """The VM (of ``owner_id`` if given), its status refreshed while launching."""
    async with db.session() as session:
        vm = await session.get(VM, vm_id)
        if vm is None or (owner_id is not None and vm.owner_id != owner_id):
            raise NotFound(f"VM {vm_id} not found")
        if vm.status == VMStatus.LAUNCHING:
            await refresh_vm(machines, vm)
        return vm


class VMService:
    """VM lifecycle on the coordinator's providers."""

    def __init__(
        self,
        db: Database,
        machines: Machines,
        config: CoordinatorSettings,
        miners: MinerStopper,
    ) -> None:
        self.db = db
        self.machines = machines
        self.config = config
        self.miners = miners
        # one creation at a time per account, so two requests cannot both pass the quota
        self._creating: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def configurations(self) -> list[Configuration]:
        """The default provider's configurations, cheapest first."""
        configs = await self.machines.provider(self.machines.default_provider).configurations()
        return sorted(configs, key=lambda c: (c.price_per_epoch_usd, c.slug))

    async def resolve_configuration(self, constraints: Constraints) -> Configuration:
        """The named configuration (or the default/cheapest), within the price cap."""
        configs = await self.configurations()
        if not configs:
            raise ProviderError("the provider offers no configuration")
        slug = constraints.basic_configuration or self.config.default_configuration
        if slug is None:
            config = configs[0]
        else:
            found = next((c for c in configs if c.slug == slug), None)
            if found is None:
                known = ", ".join(c.slug for c in configs)
                raise InvalidInput(f"unknown configuration {slug!r} (available: {known})")
            config = found
        cap = constraints.max_total_price_per_epoch_usd
        if cap is not None and config.price_per_epoch_usd > cap:
            raise InvalidInput(
                f"No suitable offer found: {config.slug} costs {config.price_per_epoch_usd} USD"
                f" per epoch, above maxTotalPricePerEpochUsd {cap}: raise the cap or pick a"
                " cheaper basicConfiguration",
                status=422,
            )
        return config

    async def estimate(self, constraints: Constraints, instances: int) -> EstimatePublic:
        """Price of ``instances`` VMs of a configuration, as Fluence's estimate answers
        (the provider's own quote where it gives one)."""
        config = await self.resolve_configuration(constraints)
        total = config.price_per_epoch_usd * instances
        deposit_epochs, deposit = DEPOSIT_EPOCHS, total * DEPOSIT_EPOCHS
        provider = self.machines.provider(self.machines.default_provider)
        if isinstance(provider, EstimatingProvider):
            quote = await provider.estimate(
                config.slug, instances, constraints.max_total_price_per_epoch_usd
            )
            total, deposit_epochs, deposit = (
                quote.total_price_per_epoch_usd,
                quote.deposit_epochs,
                quote.deposit_usd,
            )
        return EstimatePublic(
            configuration=config.slug,
            instances=instances,
            price_per_epoch=config.price_per_epoch_usd,
            total_price_per_epoch=total,
            max_price_per_epoch=constraints.max_total_price_per_epoch_usd,
            deposit_epochs=deposit_epochs,
            deposit_amount_usdc=deposit,
        )

    async def create(
        self,
        owner_id: str,
        *,
        name: str | None,
        constraints: Constraints,
        open_ports: list[PortPublic] | None,
        instances: int = 1,
    ) -> list[VM]:
        """Rent ``instances`` VMs; all or nothing (created ones are terminated on failure)."""
        limit = self.config.max_instances_per_request
        if instances > limit:
            raise InvalidInput(f"instances must be at most {limit}")
        ports = normalize_ports(open_ports)
        lock = self._creating.setdefault(owner_id, asyncio.Lock())
        async with lock:  # the quota holds for requests that arrive together
            return await self._create(owner_id, name, constraints, ports, instances)

    async def _create(
        self,
        owner_id: str,
        name: str | None,
        constraints: Constraints,
        ports: tuple[PortSpec, ...],
        instances: int,
    ) -> list[VM]:
        await self._check_quota(owner_id, instances, ports)
        config = await self.resolve_configuration(constraints)
        base = name or f"miner-{utcnow():%Y%m%d-%H%M%S}"
        names = [base] if instances == 1 else [f"{base}-{i + 1}" for i in range(instances)]
        created: list[VM] = []
        try:
            for vm_name in names:
                spec = VMSpec(
                    name=vm_name,
                    configuration=config.slug,
                    open_ports=ports,
                    max_price_per_epoch_usd=constraints.max_total_price_per_epoch_usd,
                )
                created.append(await self._rent(owner_id, spec))
        except TensorNodeError:
            await self._undo(created)
            raise
        log.info("VMs created", extra={"owner": owner_id, "vms": [v.id for v in created]})
        return created

    async def _check_quota(
        self, owner_id: str, instances: int, ports: tuple[PortSpec, ...]
    ) -> None:
        """Bound what one account holds: its live VMs, and the ports each one opens (every
        port is a host port on the local provider, whose range is shared by everyone)."""
        limits = self.config
        if len(ports) > limits.max_ports_per_vm:
            raise InvalidInput(
                f"openPorts: a VM opens at most {limits.max_ports_per_vm} ports (22 included)",
                status=422,
            )
        async with self.db.session() as session:
            held = await session.scalar(
                select(func.count())
                .select_from(VM)
                .where(VM.owner_id == owner_id, VM.status != VMStatus.TERMINATED)
            )
        if (held or 0) + instances > limits.max_vms_per_account:
            raise Conflict(
                f"an account holds at most {limits.max_vms_per_account} VMs ({held} now):"
                " terminate some first"
            )

    async def _rent(self, owner_id: str, spec: VMSpec) -> VM:
        """One VM from the default provider, recorded."""
        provider_name = self.machines.default_provider
        pvm = await self.machines.provider(provider_name).create(spec)
        vm = VM(
            owner_id=owner_id,
            name=spec.name,
            provider=provider_name,
            provider_vm_id=pvm.provider_vm_id,
            configuration=spec.configuration,
            open_ports=ports_json(spec.open_ports),
            status=pvm.status.value,
            price_per_epoch_usd=pvm.price_per_epoch_usd,
        )
        apply_provisioned(vm, pvm)
        async with self.db.session() as session:
            session.add(vm)
        return vm

    async def _undo(self, vms: list[VM]) -> None:
        for vm in vms:
            await self.delete(vm.id)

    async def get(self, vm_id: str, *, owner_id: str | None = None) -> VM:
        """The VM (of ``owner_id`` if given), its status refreshed while launching."""
        return await fetch_vm(self.db, self.machines, vm_id, owner_id=owner_id)

    async def public(self, vm: VM) -> VMPublic:
        """The API view of a VM, with its latest deployment and miner."""
        async with self.db.session() as session:
            deployment = await session.scalar(
                select(Deployment)
                .where(Deployment.vm_id == vm.id)
                .order_by(Deployment.created_at.desc())
                .limit(1)
            )
            miner = await session.scalar(select(Miner).where(Miner.vm_id == vm.id).limit(1))
        return vm_public(vm, deployment, miner)

    async def search(
        self,
        owner_id: str,
        *,
        status: str | None = None,
        name: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[VM], int]:
        """The owner's VMs, newest first; terminated ones only when asked by status."""
        query = select(VM).where(VM.owner_id == owner_id)
        if status is not None:
            query = query.where(VM.status == status)
        else:
            query = query.where(VM.status != VMStatus.TERMINATED)
        if name is not None:
            query = query.where(VM.name == name)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(
                query.order_by(VM.created_at.desc(), VM.id).limit(limit).offset(offset)
            )
            vms = list(rows)
            for vm in vms:
                if vm.status == VMStatus.LAUNCHING:
                    await refresh_vm(self.machines, vm)
        return vms, int(count or 0)

    async def update(self, vm_id: str, changes: VMUpdate) -> VM:
        """Rename a VM or replace its open ports (22 kept, 10250 refused)."""
        ports = normalize_ports(changes.open_ports) if changes.open_ports is not None else None
        async with self.db.session() as session:
            vm = await session.get(VM, vm_id)
            if vm is None:
                raise NotFound(f"VM {vm_id} not found")
            provider = self.machines.provider(vm.provider)
            if isinstance(provider, UpdatableProvider) and vm.provider_vm_id:
                await provider.update(vm.provider_vm_id, name=changes.name, open_ports=ports)
            if changes.name is not None:
                vm.name = changes.name
            if ports is not None:
                vm.open_ports = ports_json(ports)
            return vm

    async def delete(self, vm_id: str) -> VM:
        """Stop the VM's miner, terminate it at the provider, keep the row as terminated."""
        await self.miners.stop_vm_miner(vm_id, reason="VM deleted", missing_ok=True)
        async with self.db.session() as session:
            vm = await session.get(VM, vm_id)
            if vm is None:
                raise NotFound(f"VM {vm_id} not found")
            if vm.provider_vm_id and vm.status != VMStatus.TERMINATED:
                await self.machines.provider(vm.provider).terminate(vm.provider_vm_id)
            vm.status = VMStatus.TERMINATED.value
            vm.status_reason = "deleted by its owner"
            for miner in await session.scalars(select(Miner).where(Miner.vm_id == vm_id)):
                miner.status = "stopped"
            return vm

    async def allocate(
        self, owner_id: str, *, name: str | None, constraints: Constraints
    ) -> tuple[VM, bool]:
        """An idle VM of the owner's (active, no miner running), or a new one; and if reused."""
        busy = select(Deployment.vm_id).where(
            Deployment.state.in_([s.value for s in CURRENT_STATES])
        )
        async with self.db.session() as session:
            idle = await session.scalar(
                select(VM)
                .where(
                    VM.owner_id == owner_id,
                    VM.status == VMStatus.ACTIVE,
                    VM.id.not_in(busy),
                )
                .order_by(VM.created_at)
                .limit(1)
            )
            if idle is not None:
                if name:
                    idle.name = name
                return idle, True
        created = await self.create(
            owner_id, name=name, constraints=constraints, open_ports=None, instances=1
        )
        return created[0], False

    async def owner_of(self, vm_id: str) -> str | None:
        async with self.db.session() as session:
            return await session.scalar(select(VM.owner_id).where(VM.id == vm_id))
