"""Commands an owner runs on their VM (``POST /vms/{id}/exec``), each audit-logged.

The command runs on the VM's host (over SSH for remote VMs) in the VM's workdir, within a
time limit (the configured default, at most the configured maximum); the answer carries
its output and real exit code. Every attempt — finished, timed out or failed to start —
is written to ``vm_commands`` with who, which VM, the command, the exit code and when;
the output is not stored, as it may hold secrets. Ownership is the router's dependency.
"""

from __future__ import annotations

import logging
import shlex
import time

from sqlalchemy import func, select

from tensornode.config import SSHSettings
from tensornode.contracts.coordinator import VMCommandPublic, VMExecPublic
from tensornode.coordinator.machines import Machines
from tensornode.db.models import VM, VMCommand
from tensornode.db.session import Database
from tensornode.errors import Conflict, Forbidden, InvalidInput, RuntimeFailure
from tensornode.providers.base import VMStatus

log = logging.getLogger(__name__)

MAX_COMMAND_CHARS = 4096


def command_argv(command: str | list[str]) -> list[str]:
    """The argv to run: a string through ``sh -c``, a list as it is."""
    if isinstance(command, str):
        if not command.strip():
            raise InvalidInput("command is empty")
        return ["sh", "-c", command]
    if not command or not command[0]:
        raise InvalidInput("command is empty")
    return list(command)


class VMExecService:
    def __init__(
        self, db: Database, machines: Machines, config: SSHSettings, *, dev_mode: bool
    ) -> None:
        self.db = db
        self.machines = machines
        self.config = config
        self.dev_mode = dev_mode

    async def run(
        self, vm: VM, account_id: str, command: str | list[str], timeout: float | None
    ) -> VMExecPublic:
        """Run ``command`` on the VM; audit it whatever happens."""
        cfg = self.config
        limit = timeout if timeout is not None else cfg.exec_timeout_s
        if limit > cfg.exec_max_timeout_s:
            raise InvalidInput(f"timeout must be at most {cfg.exec_max_timeout_s:g} s")
        argv = command_argv(command)
        text = command if isinstance(command, str) else shlex.join(command)
        if len(text) > MAX_COMMAND_CHARS:
            raise InvalidInput(f"command must be at most {MAX_COMMAND_CHARS} characters")
        if vm.provider == "local" and not self.dev_mode:
            # a local VM's host is the coordinator's own machine
            raise Forbidden("commands on local VMs are for dev mode only")
        if vm.status != VMStatus.ACTIVE or vm.provider_vm_id is None:
            raise Conflict(f"VM {vm.id} is {vm.status}, not active")
        started = time.monotonic()
        exit_code: int | None = None
        outcome = "failed"
        try:
            _, host = await self.machines.host(vm.provider, vm.provider_vm_id)
            result = await host.run(argv, timeout=limit)
            exit_code, outcome = result.exit_code, "exited"
            return VMExecPublic(
                exit_code=result.exit_code,
                output=result.output,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        except RuntimeFailure as exc:
            if "timed out" in exc.message:
                outcome = "timed_out"
            raise
        finally:
            await self._audit(vm.id, account_id, text, exit_code, outcome, started)

    async def _audit(
        self,
        vm_id: str,
        account_id: str,
        command: str,
        exit_code: int | None,
        outcome: str,
        started: float,
    ) -> None:
        duration = int((time.monotonic() - started) * 1000)
        async with self.db.session() as session:
            session.add(
                VMCommand(
                    vm_id=vm_id,
                    account_id=account_id,
                    command=command,
                    exit_code=exit_code,
                    outcome=outcome,
                    duration_ms=duration,
                )
            )
        log.info(
            "command run on VM",
            extra={
                "vm_id": vm_id,
                "account": account_id,
                "exit_code": exit_code,
                "outcome": outcome,
            },
        )

    async def history(
        self, vm_id: str, *, limit: int = 100, offset: int = 0
    ) -> tuple[list[VMCommandPublic], int]:
        """The VM's audit log, newest first."""
        query = select(VMCommand).where(VMCommand.vm_id == vm_id)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(
                query.order_by(VMCommand.id.desc()).limit(limit).offset(offset)
            )
            data = [
                VMCommandPublic(
                    id=r.id,
                    account=r.account_id,
                    command=r.command,
                    exit_code=r.exit_code,
                    outcome=r.outcome,
                    duration_ms=r.duration_ms,
                    at=r.at,
                )
                for r in rows
            ]
        return data, int(count or 0)
