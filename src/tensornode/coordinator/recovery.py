"""What a coordinator start does with the state a previous run left behind.

1. Every VM that is not terminated is re-queried at its provider (status, IP, ports).
2. A deployment caught ``queued`` or ``building`` is run again from the start (an event
   says "coordinator restarted during build"): the owner asked for it, and a build has no
   side effect worth keeping. One caught ``starting`` without a recorded process is too.
3. A deployment ``healthy`` or ``starting`` with a recorded process is re-adopted when
   ``runtime.is_running`` and its ``/health`` answers 200; otherwise it is restarted
   through its runtime (as a job). On a VM that is no longer active it is marked stopped.

Nothing here waits for a miner's health inline: slow work runs as jobs, so the API is up
at once.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from tensornode.coordinator.services.deployments import DeploymentService
from tensornode.coordinator.services.events import CURRENT_STATES, running_of
from tensornode.coordinator.services.pipeline import DeploymentJob, probe_health
from tensornode.coordinator.services.vms import apply_provisioned
from tensornode.db.models import VM, Deployment
from tensornode.errors import TensorNodeError
from tensornode.providers.base import VMStatus
from tensornode.runtimes.base import DeploymentState

log = logging.getLogger(__name__)
S = DeploymentState


async def refresh_vms(deployments: DeploymentService) -> None:
    """Ask each VM's provider what it is now."""
    async with deployments.db.session() as session:
        vms = list(await session.scalars(select(VM).where(VM.status != VMStatus.TERMINATED)))
        for vm in vms:
            if vm.provider_vm_id is None:
                continue
            try:
                pvm = await deployments.machines.provider(vm.provider).query(vm.provider_vm_id)
            except TensorNodeError as exc:
                vm.status_reason = f"provider query failed at coordinator start: {exc.message}"
                log.warning("VM query failed on start: %s", exc, extra={"vm_id": vm.id})
                continue
            apply_provisioned(vm, pvm)


async def recover(deployments: DeploymentService) -> None:
    """Re-query VMs, then re-adopt, restart or re-run each current deployment (as jobs on
    the deployment service's runner)."""
    await refresh_vms(deployments)
    async with deployments.db.session() as session:
        rows = (
            await session.execute(
                select(Deployment, VM)
                .join(VM, VM.id == Deployment.vm_id)
                .where(Deployment.state.in_([s.value for s in CURRENT_STATES]))
                .order_by(Deployment.created_at)
            )
        ).all()
    for dep, vm in rows:
        try:
            await _recover_one(deployments, dep, vm)
        except TensorNodeError as exc:
            log.warning("recovery failed: %s", exc, extra={"deployment_id": dep.id})
            await deployments.events.transition(dep.id, S.FAILED, f"recovery failed: {exc.message}")


async def _recover_one(deployments: DeploymentService, dep: Deployment, vm: VM) -> None:
    pipeline, events, jobs = deployments.pipeline, deployments.events, deployments.jobs
    if vm.status not in (VMStatus.ACTIVE, VMStatus.LAUNCHING) or vm.provider_vm_id is None:
        await events.transition(dep.id, S.STOPPED, f"VM is {vm.status} after coordinator restart")
        return
    running = running_of(dep)
    if dep.state in (S.QUEUED, S.BUILDING) or running is None:
        await events.transition(
            dep.id, S.QUEUED, "coordinator restarted during build: running it again"
        )
        jobs.submit(vm.id, DeploymentJob(pipeline, dep.id).run())
        return
    _, host = await pipeline.machines.host(vm.provider, vm.provider_vm_id)
    runtime = pipeline.machines.runtime(running.runtime)
    alive = await runtime.is_running(host, running)
    problem = await probe_health(pipeline.http, running.endpoint) if alive else "not running"
    if problem is None:
        await pipeline.activate_miner(dep, running)
        if dep.state != S.HEALTHY:
            await events.transition(dep.id, S.HEALTHY, f"healthy at {running.endpoint}")
        await events.transition(dep.id, None, "re-adopted after coordinator restart")
        return
    why = f"coordinator restarted and the miner was {problem}"
    jobs.submit(vm.id, _restart_job(deployments, dep, vm, why))


async def _restart_job(deployments: DeploymentService, dep: Deployment, vm: VM, why: str) -> None:
    assert vm.provider_vm_id is not None
    try:
        await deployments.restart_deployment(dep, vm.provider, vm.provider_vm_id, why)
    except TensorNodeError as exc:
        # _restart has already failed the deployment with the reason
        log.warning("restart after coordinator start failed: %s", exc, extra={"vm_id": vm.id})
