"""The deployment job: replace the VM's previous miner, wait for the VM, fetch, build,
start, wait for ``/health``; on failure record why and leave nothing running.

    queued ──► building ──► starting ──► healthy
       │           │            │
       └───────────┴────────────┴──► failed (reason; started process stopped)
    any current state ──► stopped (replaced, stopped by the owner, VM deleted)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from tensornode.config import CoordinatorSettings
from tensornode.coordinator.machines import Machines
from tensornode.coordinator.services.events import (
    CURRENT_STATES,
    DeploymentEvents,
    DeploymentLog,
    context_of,
    running_json,
    running_of,
)
from tensornode.coordinator.services.vms import fetch_vm
from tensornode.db.models import VM, Deployment, Miner, utcnow
from tensornode.db.session import Database
from tensornode.errors import RuntimeFailure, TensorNodeError
from tensornode.providers.base import Host, VMStatus
from tensornode.runtimes.base import DeploymentState, RunningMiner, Runtime
from tensornode.runtimes.dockerfile import fetch_dockerfile
from tensornode.runtimes.identity import NONCE_ENV, nonce_problem

log = logging.getLogger(__name__)
S = DeploymentState


async def probe_health(
    client: httpx.AsyncClient, endpoint: str, dep: Deployment | None = None
) -> str | None:
    """None when ``endpoint/health`` answers 200 (with ``dep``'s nonce, see
    runtimes/identity.py), else what went wrong."""
    try:
        resp = await client.get(f"{endpoint.rstrip('/')}/health", timeout=5.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}".rstrip(": ")
    if resp.status_code != 200:
        return f"HTTP {resp.status_code}"
    if dep is None:
        return None
    try:
        body: object = resp.json()
    except ValueError:
        body = None
    nonce = (dep.env or {}).get(NONCE_ENV)
    return nonce_problem(body, nonce, required=dep.runtime == "builtin")


@dataclass(frozen=True)
class Pipeline:
    """The steps of deploying a miner, and what they work on."""

    db: Database
    machines: Machines
    events: DeploymentEvents
    http: httpx.AsyncClient
    config: CoordinatorSettings
    dev_mode: bool

    async def wait_healthy(
        self, runtime: Runtime, host: Host, running: RunningMiner, dep: Deployment | None = None
    ) -> None:
        """Poll the miner's /health until 200 (and ``dep``'s nonce); RuntimeFailure if it
        exits or the deadline passes."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.health_deadline_s
        while True:
            if not await runtime.is_running(host, running):
                tail = (await runtime.logs(host, running, tail_lines=5)).strip().splitlines()
                last = f" (last output: {tail[-1][:200]})" if tail else ""
                raise RuntimeFailure(f"the miner exited before answering /health{last}")
            problem = await probe_health(self.http, running.endpoint, dep)
            if problem is None:
                return
            if loop.time() >= deadline:
                raise RuntimeFailure(
                    f"the miner did not answer /health with 200 within "
                    f"{cfg.health_deadline_s:g} s (last: {problem}): check its logs (GET "
                    f"/vms/{{id}}/logs); it must listen on $PORT and answer GET /health"
                )
            await asyncio.sleep(cfg.health_poll_interval_s)

    async def stop_deployment(self, dep: Deployment, reason: str) -> None:
        """Stop a deployment's miner (if started) and mark it stopped."""
        running = running_of(dep)
        if running is not None:
            vm = await fetch_vm(self.db, self.machines, dep.vm_id)
            if vm.provider_vm_id and vm.status != VMStatus.TERMINATED:
                _, host = await self.machines.host(vm.provider, vm.provider_vm_id)
                await self.machines.runtime(running.runtime).stop(host, running)
        await self.events.transition(dep.id, S.STOPPED, reason)
        async with self.db.session() as session:
            for miner in await session.scalars(select(Miner).where(Miner.deployment_id == dep.id)):
                miner.status = "stopped"

    async def stop_others(self, vm_id: str, keep: str | None, reason: str) -> None:
        """Stop every current deployment of the VM except ``keep``."""
        async with self.db.session() as session:
            deps = list(
                await session.scalars(
                    select(Deployment).where(
                        Deployment.vm_id == vm_id,
                        Deployment.state.in_([s.value for s in CURRENT_STATES]),
                        Deployment.id != (keep or ""),
                    )
                )
            )
        for dep in deps:
            await self.stop_deployment(dep, reason)

    async def activate_miner(self, dep: Deployment, running: RunningMiner) -> None:
        """The VM's miner row (created on first success) now points at this deployment."""
        async with self.db.session() as session:
            vm = await session.get(VM, dep.vm_id)
            assert vm is not None
            miner = await session.scalar(select(Miner).where(Miner.vm_id == vm.id))
            if miner is None:
                builtin = dep.runtime == "builtin"
                subnet = (dep.models or ["llm"])[0].split("=")[0] if builtin else "llm"
                miner = Miner(
                    owner_id=vm.owner_id,
                    vm_id=vm.id,
                    kind="managed",
                    name=vm.name,
                    subnet=subnet,
                    restarts=0,
                )
                session.add(miner)
            miner.deployment_id = dep.id
            miner.endpoint = running.endpoint
            miner.status = "active"
            miner.started_at = utcnow()


class DeploymentJob:
    """One run of the pipeline for one deployment (the job runner's coroutine)."""

    def __init__(self, pipeline: Pipeline, deployment_id: str) -> None:
        self.pipeline = pipeline
        self.events = pipeline.events
        self.deployment_id = deployment_id
        self.log: DeploymentLog = pipeline.events.log(deployment_id)
        self.host: Host | None = None
        self.running: RunningMiner | None = None

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            # replaced or shutting down: the miner this job started is stopped here (the
            # next start re-runs what the database says was starting), or one started but
            # not yet recorded would hold the port and answer the next deployment's /health
            await asyncio.shield(self._stop_started())
            raise
        except TensorNodeError as exc:
            await self._fail(exc.message)
        except Exception as exc:
            log.exception("deployment job crashed", extra={"deployment_id": self.deployment_id})
            await self._fail(f"internal error ({type(exc).__name__})")

    async def _run(self) -> None:
        dep = await self._load()
        await self.pipeline.stop_others(dep.vm_id, dep.id, f"replaced by deployment {dep.id}")
        self.host, public_port = await self._wait_vm(dep)
        dep = await self.events.transition(dep.id, S.BUILDING, "building", public_port=public_port)
        if dep.source == "url" and dep.dockerfile is None:
            dep = await self._fetch(dep)
        runtime = self.pipeline.machines.runtime(dep.runtime)
        await runtime.build(self.host, context_of(dep), self.log)
        await self.events.transition(dep.id, S.STARTING, "starting the miner")
        self.running = await self._start(runtime, dep)
        await self.events.transition(
            dep.id,
            None,
            f"started ({self.running.runtime} {self.running.handle}), waiting for /health at "
            f"{self.running.endpoint}",
            running=running_json(self.running),
        )
        await self.pipeline.wait_healthy(runtime, self.host, self.running, dep)
        await self.pipeline.activate_miner(dep, self.running)
        await self.events.transition(dep.id, S.HEALTHY, f"healthy at {self.running.endpoint}")

    async def _load(self) -> Deployment:
        async with self.pipeline.db.session() as session:
            dep = await session.get(Deployment, self.deployment_id)
            assert dep is not None, self.deployment_id
            return dep

    async def _wait_vm(self, dep: Deployment) -> tuple[Host, int]:
        """Wait (within the health deadline) until the VM is active; its host and port."""
        cfg = self.pipeline.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + cfg.health_deadline_s
        while True:
            vm = await fetch_vm(self.pipeline.db, self.pipeline.machines, dep.vm_id)
            if vm.status == VMStatus.ACTIVE and vm.provider_vm_id:
                pvm, host = await self.pipeline.machines.host(vm.provider, vm.provider_vm_id)
                return host, int(pvm.port_map.get(dep.port, dep.port))
            if vm.status != VMStatus.LAUNCHING:
                raise RuntimeFailure(f"VM {vm.id} is {vm.status}")
            if loop.time() >= deadline:
                raise RuntimeFailure(f"VM {vm.id} did not become active in time")
            await asyncio.sleep(cfg.health_poll_interval_s)

    async def _fetch(self, dep: Deployment) -> Deployment:
        cfg = self.pipeline.config
        assert dep.source_url is not None
        await self.log.note(dep.state, f"fetching Dockerfile from {dep.source_url}")
        content = await fetch_dockerfile(
            dep.source_url,
            allow_private=self.pipeline.dev_mode,
            max_bytes=cfg.dockerfile_max_bytes,
            timeout=cfg.dockerfile_fetch_timeout_s,
        )
        return await self.events.transition(
            dep.id,
            None,
            f"fetched Dockerfile ({len(content)} bytes)",
            dockerfile=content,
        )

    async def _start(self, runtime: Runtime, dep: Deployment) -> RunningMiner:
        """``runtime.start``, finished even when the job is cancelled meanwhile (so the
        miner it starts is known, and stopped, rather than left holding the port)."""
        assert self.host is not None
        starting = asyncio.ensure_future(runtime.start(self.host, context_of(dep), self.log))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            try:
                self.running = await starting
            except TensorNodeError as exc:
                log.info("deployment %s: cancelled while its start failed: %s", dep.id, exc)
            raise

    async def _stop_started(self) -> None:
        if self.running is None or self.host is None:
            return
        try:
            await self.pipeline.machines.runtime(self.running.runtime).stop(self.host, self.running)
        except TensorNodeError as exc:
            log.warning("deployment %s: cannot stop its miner: %s", self.deployment_id, exc)

    async def _fail(self, reason: str) -> None:
        """Record the failure, then stop whatever this job started."""
        cleanup = ""
        if self.running is not None and self.host is not None:
            try:
                await self.pipeline.machines.runtime(self.running.runtime).stop(
                    self.host, self.running
                )
                cleanup = "; the started miner was stopped"
            except TensorNodeError as exc:
                cleanup = f"; stopping the started miner failed: {exc.message}"
        await self.events.transition(self.deployment_id, S.FAILED, reason + cleanup, reason=reason)
        async with self.pipeline.db.session() as session:
            for miner in await session.scalars(
                select(Miner).where(Miner.deployment_id == self.deployment_id)
            ):
                miner.status = "failed"
