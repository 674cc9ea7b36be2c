"""``/vms``: the caller's VMs (list, get, rename/ports, delete). Another's VM is a 404."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from tensornode.contracts.common import MAX_ROW_NUMBER
from tensornode.contracts.coordinator import VMPublic, VMsPublic, VMUpdate
from tensornode.coordinator.deps import CoordinatorDep, CurrentAccount, OwnedVM

router = APIRouter(prefix="/vms", tags=["vms"])

VMStatusFilter = Literal["launching", "active", "stopped", "terminated", "failed"]


@router.get("")
async def list_vms(
    account: CurrentAccount,
    core: CoordinatorDep,
    status: VMStatusFilter | None = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_NUMBER)] = 0,
) -> VMsPublic:
    """The caller's VMs, newest first (terminated ones only with ``status=terminated``)."""
    vms, count = await core.vms.search(
        account.id, status=status, name=name, limit=limit, offset=offset
    )
    return VMsPublic(data=[await core.vms.public(vm) for vm in vms], count=count)


@router.get("/{vm_id}")
async def get_vm(vm: OwnedVM, core: CoordinatorDep) -> VMPublic:
    """One VM; ``status`` becomes ``active`` when it is ready."""
    return await core.vms.public(vm)


@router.patch("/{vm_id}")
async def update_vm(vm: OwnedVM, body: VMUpdate, core: CoordinatorDep) -> VMPublic:
    """Rename a VM or replace its open ports (22 is kept; 10250 is reserved)."""
    return await core.vms.public(await core.vms.update(vm.id, body))


@router.delete("/{vm_id}")
async def delete_vm(vm: OwnedVM, core: CoordinatorDep) -> VMPublic:
    """Stop the VM's miner and terminate the VM."""
    return await core.vms.public(await core.vms.delete(vm.id))
