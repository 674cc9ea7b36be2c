"""Keeping VM rows in step with their providers.

A provider may change a VM on its own: Fluence terminates it, halts it for insufficient
funds, or the owner stops it in Fluence's console. :func:`sync_vm_statuses` asks each
provider about every VM we still consider alive; a VM that is no longer active takes its
miner out of routing (the miner reads ``stopped``, its current deployment ``stopped``
with the provider's reason), so the gateway stops sending it users' requests. The
monitor runs it at the start of each pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sqlalchemy import select

from tensornode.coordinator.machines import Machines
from tensornode.coordinator.services.events import CURRENT_STATES, DeploymentEvents
from tensornode.coordinator.services.vms import apply_provisioned
from tensornode.db.models import VM, Deployment, Miner
from tensornode.db.session import Database
from tensornode.errors import NotFound, TensorNodeError
from tensornode.providers.base import ProvisionedVM, VMStatus
from tensornode.runtimes.base import DeploymentState

log = logging.getLogger(__name__)


@runtime_checkable
class ListingProvider(Protocol):
    """A provider that answers for many VMs in one call (Fluence lists them all)."""

    async def query_many(self, provider_vm_ids: Sequence[str]) -> dict[str, ProvisionedVM]:
        """The listed VMs among ``provider_vm_ids`` (absent: the provider has no such VM)."""
        ...


SYNCED = (VMStatus.LAUNCHING.value, VMStatus.ACTIVE.value, VMStatus.STOPPED.value)
"""VM states a provider may still change."""
GONE = (VMStatus.STOPPED.value, VMStatus.TERMINATED.value, VMStatus.FAILED.value)


async def sync_vm_statuses(db: Database, machines: Machines, events: DeploymentEvents) -> list[str]:
    """Refresh every live VM from its provider; the ids of VMs that left ``active``."""
    async with db.session() as session:
        rows = list(
            await session.scalars(
                select(VM).where(VM.status.in_(SYNCED), VM.provider_vm_id.is_not(None))
            )
        )
    known = await _query_all(machines, rows)
    left: list[str] = []
    for vm in rows:
        if vm.id not in known:
            continue  # its provider is not configured here, or could not answer
        pvm = known[vm.id]
        if pvm is None:
            status = VMStatus.TERMINATED.value
            note: str | None = f"the {vm.provider} provider no longer has it"
        else:
            status, note = pvm.status.value, pvm.note
        if status == vm.status:
            continue
        async with db.session() as session:
            row = await session.get(VM, vm.id)
            assert row is not None
            was = row.status
            if pvm is not None:
                apply_provisioned(row, pvm)
            row.status, row.status_reason = status, note or row.status_reason
        log.info("VM %s is now %s (was %s)", vm.id, status, was, extra={"vm_id": vm.id})
        if was == VMStatus.ACTIVE.value and status in GONE:
            await _retire_miner(db, events, vm.id, note or f"the VM is {status}")
            left.append(vm.id)
    return left


async def _query_all(machines: Machines, vms: list[VM]) -> dict[str, ProvisionedVM | None]:
    """What each VM's provider says (None: it no longer has the VM), one list call per
    provider that can list; VMs whose provider failed or is not configured are left out."""
    answers: dict[str, ProvisionedVM | None] = {}
    for name in {vm.provider for vm in vms} & set(machines.providers):
        provider = machines.provider(name)
        mine = [vm for vm in vms if vm.provider == name and vm.provider_vm_id]
        if isinstance(provider, ListingProvider):
            try:
                listed = await provider.query_many([vm.provider_vm_id or "" for vm in mine])
            except TensorNodeError as exc:
                log.warning("VM status sync failed for provider %s: %s", name, exc)
                continue
            answers.update({vm.id: listed.get(vm.provider_vm_id or "") for vm in mine})
            continue
        for vm in mine:
            try:
                answers[vm.id] = await provider.query(vm.provider_vm_id or "")
            except NotFound:
                answers[vm.id] = None  # the provider forgot it: gone
            except TensorNodeError as exc:
                log.warning("VM status sync failed: %s", exc, extra={"vm_id": vm.id})
    return answers


async def _retire_miner(db: Database, events: DeploymentEvents, vm_id: str, reason: str) -> None:
    """The VM's miner leaves routing; its current deployment ends with ``reason``."""
    async with db.session() as session:
        deps = list(
            await session.scalars(
                select(Deployment.id).where(
                    Deployment.vm_id == vm_id,
                    Deployment.state.in_([s.value for s in CURRENT_STATES]),
                )
            )
        )
        for miner in await session.scalars(select(Miner).where(Miner.vm_id == vm_id)):
            miner.status = "stopped"
    for dep_id in deps:
        await events.transition(dep_id, DeploymentState.STOPPED, f"VM gone: {reason}")
