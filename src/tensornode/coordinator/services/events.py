"""Deployment state changes, each one an event row and a line in the deployment's log file.

Also the conversions between a deployment row and the runtime seam's dataclasses.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from tensornode.contracts.coordinator import DeploymentEventPublic, DeploymentPublic
from tensornode.db.models import Deployment, DeploymentEvent, utcnow
from tensornode.db.session import Database
from tensornode.errors import NotFound
from tensornode.runtimes.base import DeploymentContext, DeploymentState, MinerSpec, RunningMiner

CURRENT_STATES = frozenset(
    {
        DeploymentState.QUEUED,
        DeploymentState.BUILDING,
        DeploymentState.STARTING,
        DeploymentState.HEALTHY,
    }
)
"""A deployment in one of these occupies its VM; at most one per VM."""


class DeploymentLog:
    """The deployment's log file: build output and state changes, appended line by line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8", errors="replace") as fh:
            fh.write(text)

    async def __call__(self, line: str) -> None:
        """An :data:`~tensornode.providers.base.OutputSink` for runtimes."""
        await asyncio.to_thread(self._append, line.rstrip("\n") + "\n")

    async def note(self, state: str, message: str, at: datetime | None = None) -> None:
        stamp = (at or utcnow()).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self(f"[{stamp}] {state}: {message}")


def spec_of(dep: Deployment) -> MinerSpec:
    return MinerSpec(
        runtime="docker" if dep.runtime == "docker" else "builtin",
        port=dep.port,
        models=tuple(dep.models or ()) or ("llm=tiny",),
        dockerfile=dep.dockerfile,
        env=dict(dep.env or {}),
    )


def context_of(dep: Deployment) -> DeploymentContext:
    return DeploymentContext(
        deployment_id=dep.id, vm_id=dep.vm_id, spec=spec_of(dep), public_port=dep.public_port
    )


def running_of(dep: Deployment) -> RunningMiner | None:
    if not dep.running:
        return None
    return RunningMiner(
        runtime=dep.running["runtime"],
        handle=dep.running["handle"],
        endpoint=dep.running["endpoint"],
        log_path=dep.running.get("log_path"),
    )


def running_json(running: RunningMiner) -> dict[str, str]:
    data = {"runtime": running.runtime, "handle": running.handle, "endpoint": running.endpoint}
    if running.log_path is not None:
        data["log_path"] = running.log_path
    return data


def deployment_public(dep: Deployment, events: list[DeploymentEvent]) -> DeploymentPublic:
    return DeploymentPublic(
        id=dep.id,
        vm_id=dep.vm_id,
        runtime=dep.runtime,
        source=dep.source,
        source_url=dep.source_url,
        port=dep.port,
        public_port=dep.public_port,
        models=list(dep.models or []) if dep.runtime == "builtin" else [],
        state=dep.state,
        reason=dep.reason,
        endpoint=dep.running["endpoint"] if dep.running else None,
        created_at=dep.created_at,
        updated_at=dep.updated_at,
        events=[DeploymentEventPublic(at=e.at, state=e.state, message=e.message) for e in events],
    )


class DeploymentEvents:
    """Deployment state changes: event rows in ``db``, log files under ``log_dir``."""

    def __init__(self, db: Database, log_dir: Path) -> None:
        self.db = db
        self.log_dir = log_dir

    def log_path(self, deployment_id: str) -> Path:
        """The deployment's log file (its directory made on first use)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return self.log_dir / f"{deployment_id}.log"

    def log(self, deployment_id: str) -> DeploymentLog:
        return DeploymentLog(self.log_path(deployment_id))

    async def transition(
        self,
        deployment_id: str,
        state: DeploymentState | None,
        message: str,
        **fields: object,
    ) -> Deployment:
        """Move a deployment to ``state`` (None: keep it) with an event; set ``fields`` too."""
        at = utcnow()
        async with self.db.session() as session:
            dep = await session.get(Deployment, deployment_id)
            if dep is None:
                raise NotFound(f"deployment {deployment_id} not found")
            if state is not None:
                dep.state = state.value
            for name, value in fields.items():
                setattr(dep, name, value)
            session.add(
                DeploymentEvent(deployment_id=dep.id, at=at, state=dep.state, message=message)
            )
        await self.log(deployment_id).note(dep.state, message, at)
        return dep
