"""The coordinator's :class:`~tensornode.monitor.fleet.MinerFleet`: miners from its database,
processes through its providers and runtimes, restarts through its deployment service.

Which miners: those whose status is ``active`` or ``unhealthy`` and, when managed, whose
deployment is ``healthy`` (or ``failed`` by a restart the monitor will retry) and whose VM
has no deployment job running (that job owns the VM meanwhile). Transitions are written to
the deployment's event log (``GET /vms/{id}/deployments``) as ``monitor: <kind>: <message>``;
VMs are first brought in step with their providers (``services/vm_status.py``: a VM
Fluence terminated takes its miner out of routing). The miner's ``status`` follows its
health (``active``, ``unhealthy``, ``failed`` once the monitor gave up, which also fails
the deployment). Restarts are
:meth:`~tensornode.coordinator.services.deployments.DeploymentService.restart_miner`: no
rebuild, healthy or failed when it returns, counted on the miner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select

from tensornode.coordinator.jobs import JobRunner
from tensornode.coordinator.machines import Machines
from tensornode.coordinator.services.deployments import DeploymentService
from tensornode.coordinator.services.events import running_of
from tensornode.coordinator.services.miners import MONITORED_STATUSES, MinerService
from tensornode.coordinator.services.vm_status import sync_vm_statuses
from tensornode.db.models import VM, Deployment, Miner
from tensornode.db.session import Database
from tensornode.errors import Conflict, NotFound
from tensornode.monitor.fleet import MonitoredMiner
from tensornode.monitor.probe import ProbeResult
from tensornode.monitor.tracker import Event, EventKind, Health
from tensornode.providers.base import Host, VMStatus
from tensornode.runtimes.base import DeploymentState, RunningMiner
from tensornode.runtimes.identity import NONCE_ENV

WATCHED_DEPLOYMENTS = (DeploymentState.HEALTHY.value, DeploymentState.FAILED.value)
"""FAILED is watched only while the miner is still active/unhealthy: a failed restart
(the deployment job's own failures mark the miner failed)."""
MINER_STATUS = {
    Health.UNKNOWN: "active",
    Health.HEALTHY: "active",
    Health.UNHEALTHY: "unhealthy",
    Health.RESTARTING: "unhealthy",
    Health.GAVE_UP: "failed",
}


@dataclass(frozen=True)
class _Managed:
    """Where a managed miner runs, as last read from the database."""

    deployment_id: str
    vm_id: str
    provider: str
    provider_vm_id: str
    running: RunningMiner

    def moved(self, running: RunningMiner) -> _Managed:
        """The same miner, running as ``running`` after a restart."""
        return _Managed(self.deployment_id, self.vm_id, self.provider, self.provider_vm_id, running)


def _monitored(miner_id: str, dep: Deployment, running: RunningMiner) -> MonitoredMiner:
    """A managed miner, with the nonce its deployment's /health must report."""
    return MonitoredMiner(
        miner_id,
        running.endpoint,
        True,
        running.handle,
        nonce=(dep.env or {}).get(NONCE_ENV),
        nonce_required=dep.runtime == "builtin",
    )


class CoordinatorFleet:
    """Monitoring on top of the coordinator's database, machines and services."""

    def __init__(
        self,
        db: Database,
        machines: Machines,
        jobs: JobRunner,
        deployments: DeploymentService,
        miners: MinerService,
    ) -> None:
        self.db = db
        self.machines = machines
        self.jobs = jobs
        self.deployments = deployments
        self.miners = miners
        self._managed: dict[str, _Managed] = {}

    async def monitored_miners(self) -> Sequence[MonitoredMiner]:
        # VMs a provider terminated or halted take their miners out of routing first
        await sync_vm_statuses(self.db, self.machines, self.deployments.events)
        # Not MinerService.active_miners: a miner whose deployment was stopped or replaced
        # keeps its status, and restarting it would undo its owner's action.
        query = (
            select(Miner, Deployment, VM)
            .outerjoin(Deployment, Deployment.id == Miner.deployment_id)
            .outerjoin(VM, VM.id == Deployment.vm_id)
            .where(Miner.status.in_(MONITORED_STATUSES))
            .where(or_(Miner.kind != "managed", Deployment.state.in_(WATCHED_DEPLOYMENTS)))
            .order_by(Miner.created_at, Miner.id)
        )
        miners: list[MonitoredMiner] = []
        managed: dict[str, _Managed] = {}
        async with self.db.session() as session:
            for miner, dep, vm in await session.execute(query):
                running = running_of(dep) if dep is not None else None
                if miner.kind == "managed" and vm is not None and running is not None:
                    if vm.provider_vm_id is None or vm.status == VMStatus.TERMINATED:
                        continue
                    if self.jobs.is_running(vm.id):
                        continue  # a deployment in progress owns the VM
                    managed[miner.id] = _Managed(
                        dep.id, vm.id, vm.provider, vm.provider_vm_id, running
                    )
                    miners.append(_monitored(miner.id, dep, running))
                elif miner.kind != "managed":
                    miners.append(MonitoredMiner(miner.id, miner.endpoint, False))
        self._managed = managed
        return miners

    async def is_running(self, miner: MonitoredMiner) -> bool:
        target = self._managed.get(miner.miner_id)
        if target is None:
            return True  # an external miner: only its /health tells
        host = await self._host(target)
        if host is None:
            return False
        return await self.machines.runtime(target.running.runtime).is_running(host, target.running)

    async def restart(self, miner: MonitoredMiner) -> MonitoredMiner:
        if miner.miner_id not in self._managed:
            raise Conflict(f"miner {miner.miner_id} is not managed by this coordinator")
        row = await self.deployments.restart_miner(miner.miner_id)
        async with self.db.session() as session:
            dep = await session.get(Deployment, row.deployment_id or "")
        running = running_of(dep) if dep is not None else None
        if dep is None or running is None:
            raise Conflict(f"miner {miner.miner_id} lost its deployment while restarting")
        self._managed[miner.miner_id] = self._managed[miner.miner_id].moved(running)
        return _monitored(miner.miner_id, dep, running)

    async def record_probe(self, miner: MonitoredMiner, probe: ProbeResult) -> None:
        await self.miners.record_probe(
            miner.miner_id, ok=probe.ok, latency_ms=probe.latency_s * 1000, error=probe.error
        )

    async def record_events(
        self, miner: MonitoredMiner, events: Sequence[Event], *, health: str
    ) -> None:
        await self.miners.set_status(miner.miner_id, MINER_STATUS[Health(health)])
        target = self._managed.get(miner.miner_id)
        if target is None:
            return
        for event in events:
            gave_up = event.kind is EventKind.GAVE_UP
            await self.deployments.record_event(
                target.deployment_id,
                f"monitor: {event.kind.value}: {event.message}",
                DeploymentState.FAILED if gave_up else None,
            )

    async def _host(self, target: _Managed) -> Host | None:
        """The VM's host, or None when the provider no longer has it active."""
        try:
            pvm, host = await self.machines.host(target.provider, target.provider_vm_id)
        except (NotFound, Conflict):  # gone, or no longer active at the provider
            return None
        return host if pvm.status == VMStatus.ACTIVE else None
