"""``POST /vms/{id}/exec`` (owner only, time-limited, audit-logged) and its audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tensornode.contracts.coordinator import VMCommandsPublic, VMExecPublic, VMExecRequest
from tensornode.coordinator.deps import CoordinatorDep, CurrentAccount, OwnedVM

router = APIRouter(prefix="/vms/{vm_id}", tags=["vms"])


@router.post("/exec")
async def exec_command(
    vm: OwnedVM, body: VMExecRequest, account: CurrentAccount, core: CoordinatorDep
) -> VMExecPublic:
    """Run a command on the caller's VM: its output and real exit code (a timeout is 502)."""
    return await core.vm_exec.run(vm, account.id, body.command, body.timeout)


@router.get("/exec")
async def exec_history(
    vm: OwnedVM,
    account: CurrentAccount,
    core: CoordinatorDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> VMCommandsPublic:
    """The commands run on the VM (who, what, exit code, when), newest first."""
    data, count = await core.vm_exec.history(vm.id, limit=limit, offset=offset)
    return VMCommandsPublic(data=data, count=count)
