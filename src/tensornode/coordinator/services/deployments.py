"""Deploying miners onto VMs: accept a request at once, run the pipeline as a job.

Requests validate everything they can immediately (VM state, port, Dockerfile content,
URL policy) so a bad input is a 4xx and leaves no deployment; the rest happens in
:class:`~tensornode.coordinator.services.pipeline.DeploymentJob`. The monitor uses
:meth:`DeploymentService.restart_miner` and :meth:`DeploymentService.record_event`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tensornode.contracts.coordinator import DeploymentPublic
from tensornode.coordinator.jobs import JobRunner
from tensornode.coordinator.services.events import (
    CURRENT_STATES,
    context_of,
    deployment_public,
    running_json,
    running_of,
)
from tensornode.coordinator.services.pipeline import DeploymentJob, Pipeline
from tensornode.coordinator.services.vms import fetch_vm
from tensornode.db.models import VM, Deployment, Miner
from tensornode.errors import (
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    RuntimeFailure,
    TensorNodeError,
)
from tensornode.miner.backends import UPSTREAM_BACKENDS, parse_model_spec
from tensornode.miner.backends.openai_upstream import parse_target
from tensornode.net.safe_fetch import check_url_allowed
from tensornode.providers.base import VMStatus
from tensornode.runtimes.base import DeploymentState
from tensornode.runtimes.dockerfile import validate_dockerfile
from tensornode.runtimes.identity import NONCE_ENV, new_nonce

log = logging.getLogger(__name__)
S = DeploymentState
FOLLOW_POLL_S = 0.5


class DeploymentService:
    """Deployments of miners onto VMs, and their logs."""

    def __init__(self, pipeline: Pipeline, jobs: JobRunner) -> None:
        self.pipeline = pipeline
        self.jobs = jobs
        self.db = pipeline.db
        self.machines = pipeline.machines
        self.events = pipeline.events

    async def deploy_builtin(
        self, vm_id: str, models: list[str], *, port: int = 3000, env: dict[str, str] | None = None
    ) -> DeploymentPublic:
        """Run ``tensornode miner serve --model ...`` on the VM; an ``openai`` upstream URL
        is checked against the URL policy now, as a Dockerfile URL is."""
        for model in models:
            await self.check_upstream(model)
        return await self._submit(
            vm_id, runtime="builtin", source="builtin", port=port, models=models, env=env or {}
        )

    async def check_upstream(self, model: str) -> None:
        """InvalidInput when a model spec's upstream URL (``openai:<url>``) is refused."""
        try:
            spec = parse_model_spec(model)
        except ConfigurationError as exc:
            raise InvalidInput(f"models: {exc.message}", status=422) from None
        if spec.backend in UPSTREAM_BACKENDS:
            base_url, _ = parse_target(spec.target)
            await check_url_allowed(
                base_url,
                allow_private=self.pipeline.dev_mode,
                what=f"the {spec.backend} upstream of {model!r}",
            )

    async def deploy_dockerfile_url(
        self, vm_id: str, url: str, *, port: int = 3000
    ) -> DeploymentPublic:
        """Fetch, build and run the Dockerfile at ``url`` (checked against the URL policy now)."""
        await check_url_allowed(url, allow_private=self.pipeline.dev_mode, what="dockerfile_url")
        return await self._submit(vm_id, runtime="docker", source="url", port=port, url=url)

    async def deploy_dockerfile(
        self, vm_id: str, content: bytes, *, port: int = 3000
    ) -> DeploymentPublic:
        """Build and run an uploaded Dockerfile (validated now)."""
        limit = self.pipeline.config.dockerfile_max_bytes
        validate_dockerfile(content, max_bytes=limit)
        return await self._submit(
            vm_id, runtime="docker", source="upload", port=port, dockerfile=content
        )

    async def _submit(
        self,
        vm_id: str,
        *,
        runtime: str,
        source: str,
        port: int,
        models: list[str] | None = None,
        env: dict[str, str] | None = None,
        url: str | None = None,
        dockerfile: bytes | None = None,
    ) -> DeploymentPublic:
        vm = await fetch_vm(self.db, self.machines, vm_id)
        self._check_deployable(vm, port)
        self.machines.runtime(runtime)  # refuse an unavailable runtime before anything is stored
        dep = Deployment(
            vm_id=vm_id,
            runtime=runtime,
            source=source,
            source_url=url,
            port=port,
            public_port=port,
            models=models or [],
            env={**(env or {}), NONCE_ENV: new_nonce()},  # identity.py: /health reports it
            dockerfile=dockerfile,
            state=S.QUEUED.value,
        )
        async with self.db.session() as session:
            session.add(dep)
        what = url or (", ".join(models or []) if runtime == "builtin" else "uploaded Dockerfile")
        dep = await self.events.transition(
            dep.id, None, f"accepted: {runtime} {what} on port {port}"
        )
        # the job replaces the VM's previous one; it stops the previous deployment first
        await self.jobs.replace(vm_id, DeploymentJob(self.pipeline, dep.id).run())
        return await self.get(dep.id)

    @staticmethod
    def _check_deployable(vm: VM, port: int) -> None:
        if vm.status not in (VMStatus.LAUNCHING, VMStatus.ACTIVE):
            raise Conflict(f"VM {vm.id} is {vm.status}: cannot deploy a miner on it")
        open_ports = {p["port"] for p in vm.open_ports}
        if port not in open_ports:
            raise InvalidInput(
                f"port {port} is not open on VM {vm.id} (open: "
                f"{', '.join(str(p) for p in sorted(open_ports))}); add it with PATCH /vms/{vm.id}"
            )

    async def get(self, deployment_id: str) -> DeploymentPublic:
        async with self.db.session() as session:
            dep = await session.scalar(
                select(Deployment)
                .where(Deployment.id == deployment_id)
                .options(selectinload(Deployment.events))
            )
            if dep is None:
                raise NotFound(f"deployment {deployment_id} not found")
            return deployment_public(dep, list(dep.events))

    async def for_vm(self, vm_id: str) -> list[DeploymentPublic]:
        """The VM's deployments, newest first, each with its event log."""
        async with self.db.session() as session:
            deps = await session.scalars(
                select(Deployment)
                .where(Deployment.vm_id == vm_id)
                .options(selectinload(Deployment.events))
                .order_by(Deployment.created_at.desc(), Deployment.id)
            )
            return [deployment_public(d, list(d.events)) for d in deps]

    async def current(self, vm_id: str) -> Deployment | None:
        """The VM's deployment that occupies it, if any."""
        async with self.db.session() as session:
            return await session.scalar(
                select(Deployment)
                .where(
                    Deployment.vm_id == vm_id,
                    Deployment.state.in_([s.value for s in CURRENT_STATES]),
                )
                .order_by(Deployment.created_at.desc())
                .limit(1)
            )

    async def latest(self, vm_id: str) -> Deployment | None:
        async with self.db.session() as session:
            return await session.scalar(
                select(Deployment)
                .where(Deployment.vm_id == vm_id)
                .order_by(Deployment.created_at.desc())
                .limit(1)
            )

    async def stop_vm_miner(
        self, vm_id: str, *, reason: str = "stopped by its owner", missing_ok: bool = False
    ) -> DeploymentPublic | None:
        """Cancel the VM's job and stop its current deployment's miner."""
        await self.jobs.cancel(vm_id)
        dep = await self.current(vm_id)
        if dep is None:
            if missing_ok:
                return None
            raise Conflict(f"VM {vm_id} has no miner to stop")
        await self.pipeline.stop_deployment(dep, reason)
        return await self.get(dep.id)

    async def redeploy(self, vm_id: str) -> DeploymentPublic:
        """Deploy the VM's latest miner again, from the same spec (``POST /vms/{id}/restart``)."""
        dep = await self.latest(vm_id)
        if dep is None:
            raise Conflict(f"VM {vm_id} has no deployment to restart")
        return await self._submit(
            vm_id,
            runtime=dep.runtime,
            source=dep.source,
            port=dep.port,
            models=list(dep.models or []),
            env=dict(dep.env or {}),
            url=dep.source_url,
            dockerfile=dep.dockerfile,
        )

    async def record_event(
        self, deployment_id: str, message: str, state: DeploymentState | None = None
    ) -> None:
        """Add an event (and a log line) to a deployment, changing its state if given."""
        await self.events.transition(deployment_id, state, message)

    async def restart_miner(self, miner_id: str) -> Miner:
        """Start a managed miner again through its runtime (no rebuild); count the restart.

        Raises Conflict while a deployment job runs on its VM (or one replaces the restart)
        and RuntimeFailure when the miner does not come back healthy (its deployment is then
        failed, nothing left running).
        """
        async with self.db.session() as session:
            miner = await session.get(Miner, miner_id)
            if miner is None or miner.kind != "managed" or miner.deployment_id is None:
                raise NotFound(f"managed miner {miner_id} not found")
            dep = await session.get(Deployment, miner.deployment_id)
            vm = await session.get(VM, miner.vm_id or "")
        if dep is None or vm is None or vm.provider_vm_id is None:
            raise Conflict(f"miner {miner_id} has no deployment to restart")
        # as a job on the VM's key: no deployment can start on the VM meanwhile
        task = self.jobs.submit(
            vm.id, self.restart_deployment(dep, vm.provider, vm.provider_vm_id, "restart requested")
        )
        try:
            await asyncio.wait([task])
        finally:
            async with self.db.session() as session:
                miner = await session.get(Miner, miner_id)
                assert miner is not None
                miner.restarts += 1  # every attempt counts, as the monitor's backoff does
        if task.cancelled():
            raise Conflict(f"the restart of miner {miner_id} was interrupted by a new deployment")
        if (exc := task.exception()) is not None:
            raise exc
        return miner

    async def restart_deployment(
        self, dep: Deployment, provider: str, provider_vm_id: str, why: str
    ) -> None:
        """Stop what is left of a deployment's miner and start it again, healthy or failed."""
        _, host = await self.machines.host(provider, provider_vm_id)
        runtime = self.machines.runtime(dep.runtime)
        old = running_of(dep)
        if old is not None:
            await runtime.stop(host, old)
        await self.events.transition(dep.id, S.STARTING, f"{why}: starting the miner again")
        running = None
        try:
            running = await runtime.start(host, context_of(dep), self.events.log(dep.id))
            await self.events.transition(
                dep.id,
                None,
                f"started ({running.runtime} {running.handle})",
                running=running_json(running),
            )
            await self.pipeline.wait_healthy(runtime, host, running, dep)
        except TensorNodeError as exc:
            if running is not None:
                await runtime.stop(host, running)
            await self.events.transition(
                dep.id, S.FAILED, f"restart failed: {exc.message}", reason=exc.message
            )
            raise RuntimeFailure(f"miner on VM {dep.vm_id} did not restart: {exc.message}") from exc
        await self.pipeline.activate_miner(dep, running)
        await self.events.transition(dep.id, S.HEALTHY, f"healthy again at {running.endpoint}")

    async def logs(self, vm_id: str, *, tail: int = 200) -> str:
        """The last ``tail`` lines of the VM's latest deployment log, then its miner's output."""
        dep = await self.latest(vm_id)
        if dep is None:
            return ""
        text = await asyncio.to_thread(self._tail_file, dep.id, tail)
        running = running_of(dep)
        vm = await fetch_vm(self.db, self.machines, vm_id)
        if running is not None and dep.state in CURRENT_STATES and vm.provider_vm_id:
            _, host = await self.machines.host(vm.provider, vm.provider_vm_id)
            output = await self.machines.runtime(running.runtime).logs(
                host, running, tail_lines=tail
            )
            if output.strip():
                text += "--- miner output ---\n" + output.rstrip("\n") + "\n"
        return text

    def _tail_file(self, deployment_id: str, tail: int) -> str:
        path = self.events.log_path(deployment_id)
        if not path.exists():
            return ""
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "".join(line + "\n" for line in lines[-tail:]) if tail > 0 else ""

    async def follow(self, vm_id: str, *, tail: int = 200) -> AsyncIterator[str]:
        """The deployment log's last lines, then each new line as it is written."""
        dep = await self.latest(vm_id)
        if dep is None:
            raise Conflict(f"VM {vm_id} has no deployment yet")
        path = self.events.log_path(dep.id)
        for line in (await asyncio.to_thread(self._tail_file, dep.id, tail)).splitlines():
            yield line
        offset = path.stat().st_size if path.exists() else 0
        pending = ""
        while True:
            chunk, offset = await asyncio.to_thread(_read_from, path, offset)
            pending += chunk
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line
            await asyncio.sleep(FOLLOW_POLL_S)


def _read_from(path: Path, offset: int) -> tuple[str, int]:
    """What was appended to ``path`` since ``offset``, and the new offset."""
    if not path.exists():
        return "", offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    return data.decode("utf-8", errors="replace"), offset + len(data)
