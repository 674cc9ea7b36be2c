"""Bringing miners up through a coordinator's API, with a live progress display.

Shared by ``tensornode deploy`` and ``tensornode up``: for each VM, wait until it is
active, deploy the miner unless one is already there, and wait until the miner is
healthy, showing each VM's stage (VM launching, VM active, miner deploying, healthy).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from tensornode.client import CoordinatorClient
from tensornode.contracts.coordinator import DeploymentPublic, MinerDeploy, MinerSpecIn, VMPublic
from tensornode.errors import RuntimeFailure, TensorNodeError
from tensornode.runtimes.dockerfile import validate_dockerfile

POLL_S = 0.5
REASON_MAX_CHARS = 300
VM_DEAD = frozenset({"failed", "stopped", "terminated"})
MINER_BUSY = frozenset({"queued", "building", "starting", "healthy"})
"""Deployment states that mean a miner is (being) deployed: nothing to deploy again."""


@dataclass(frozen=True)
class MinerSource:
    """What to run on each VM: builtin models, a Dockerfile URL, or a Dockerfile's content."""

    models: tuple[str, ...] = ("llm=tiny",)
    dockerfile_url: str | None = None
    dockerfile: bytes | None = None
    dockerfile_name: str = "Dockerfile"
    port: int = 3000

    def describe(self) -> str:
        if self.dockerfile is not None:
            return f"Dockerfile {self.dockerfile_name}"
        if self.dockerfile_url is not None:
            return f"Dockerfile at {self.dockerfile_url}"
        return "builtin miner (" + ", ".join(self.models) + ")"

    def inline(self) -> MinerSpecIn | None:
        """The miner as part of ``POST /deploy``, checked before any VM is rented (an
        upload cannot be inline: it is checked here instead, the way the coordinator does)."""
        if self.dockerfile is not None:
            validate_dockerfile(self.dockerfile)
            return None
        if self.dockerfile_url is not None:
            return MinerSpecIn(runtime="docker", dockerfile_url=self.dockerfile_url, port=self.port)
        return MinerSpecIn(runtime="builtin", models=list(self.models), port=self.port)

    async def deploy(self, api: CoordinatorClient, vm_id: str) -> DeploymentPublic:
        """Ask the coordinator to deploy this miner on the VM."""
        if self.dockerfile is not None:
            return await api.deploy_dockerfile(
                vm_id, self.dockerfile, filename=self.dockerfile_name, port=self.port
            )
        if self.dockerfile_url is not None:
            return await api.deploy_docker_url(vm_id, self.dockerfile_url, port=self.port)
        return await api.deploy_builtin(
            vm_id, MinerDeploy(models=list(self.models), port=self.port)
        )


class FleetProgress:
    """One progress bar per VM: 3 steps (VM active, miner deployed, miner healthy)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.fields[name]:<20}"),
            BarColumn(bar_width=20),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    @contextmanager
    def shown(self) -> Iterator[FleetProgress]:
        with self._progress:
            yield self

    def show(self, vm: VMPublic) -> None:
        """Show the VM's current stage."""
        step, text = stage(vm)
        task = self._tasks.get(vm.id)
        if task is None:
            task = self._progress.add_task(text, total=3, name=vm.name)
            self._tasks[vm.id] = task
        self._progress.update(task, completed=step, description=text)


def stage(vm: VMPublic) -> tuple[int, str]:
    """How far a VM is (0-3) and a short description of where it stands."""
    if vm.status != "active":
        return 0, f"VM {vm.status}"
    miner = vm.deployment_state
    if miner is None:
        return 1, "VM active"
    if miner == "healthy":
        return 3, f"healthy at {vm.endpoint}"
    return 2, f"miner {miner}"


async def bring_up(
    api: CoordinatorClient,
    vm_ids: Sequence[str],
    source: MinerSource,
    progress: FleetProgress,
    *,
    timeout: float,
) -> list[VMPublic]:
    """Bring every VM's miner to healthy (concurrently); one-line RuntimeFailure otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    outcomes = await asyncio.gather(
        *(_bring_up_one(api, vm_id, source, progress, deadline) for vm_id in vm_ids),
        return_exceptions=True,
    )
    vms: list[VMPublic] = []
    problems: list[str] = []
    for outcome in outcomes:
        if isinstance(outcome, TensorNodeError):
            problems.append(outcome.message)
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            vms.append(outcome)
    if problems:
        raise RuntimeFailure("; ".join(problems))
    return vms


async def _bring_up_one(
    api: CoordinatorClient,
    vm_id: str,
    source: MinerSource,
    progress: FleetProgress,
    deadline: float,
) -> VMPublic:
    vm = await _wait(api, vm_id, progress, deadline, lambda v: v.status == "active")
    if vm.deployment_state not in MINER_BUSY:
        await source.deploy(api, vm_id)
    return await _wait(api, vm_id, progress, deadline, lambda v: v.deployment_state == "healthy")


async def _wait(
    api: CoordinatorClient,
    vm_id: str,
    progress: FleetProgress,
    deadline: float,
    done: Callable[[VMPublic], bool],
) -> VMPublic:
    loop = asyncio.get_running_loop()
    while True:
        vm = await api.get_vm(vm_id)
        progress.show(vm)
        if done(vm):
            return vm
        if vm.status in VM_DEAD:
            reason = f" ({vm.status_reason})" if vm.status_reason else ""
            raise RuntimeFailure(f"VM {vm.name} ({vm.id}) is {vm.status}{reason}")
        if vm.deployment_state == "failed":
            raise RuntimeFailure(f"VM {vm.name} ({vm.id}): {await _failure(api, vm_id)}")
        if loop.time() >= deadline:
            raise RuntimeFailure(f"VM {vm.name} ({vm.id}) is not ready in time: {stage(vm)[1]}")
        await asyncio.sleep(POLL_S)


async def _failure(api: CoordinatorClient, vm_id: str) -> str:
    deployments = await api.deployments(vm_id)
    latest = deployments.data[0] if deployments.data else None
    reason = " ".join((latest.reason or "").split()) if latest is not None else ""
    if len(reason) > REASON_MAX_CHARS:  # a build's output can be long: the log has it all
        reason = reason[: REASON_MAX_CHARS - 1] + "…"
    return f"the miner failed: {reason or 'no reason recorded'} (see `tensornode vm logs {vm_id}`)"
