"""Fixtures of the coordinator tests: a real app (local provider, builtin runtime, real
child processes) on SQLite and PostgreSQL, reached in-process or over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from factories import DB_BACKENDS, database_url, make_settings
from tensornode.config import Settings
from tensornode.coordinator.app import build_app
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import VM
from tensornode.providers.base import VMStatus

ECHO = "llm=echo"
"""The model of miners whose model does not matter to a test: a real ``tensornode miner
serve`` process, ready in about 2 s where the tiny model's imports take about 9 s here.
Tests that need the real model deploy ``llm=tiny``."""


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return make_settings(tmp_path / "data", db_url)


async def terminate_everything(core: Coordinator) -> None:
    """Terminate every VM the coordinator knows, so no miner process outlives a test."""
    await core.jobs.drain()
    async with core.db.session() as session:
        ids = list(await session.scalars(select(VM.id).where(VM.status != VMStatus.TERMINATED)))
    for vm_id in ids:
        await core.vms.delete(vm_id)


@asynccontextmanager
async def running_app(settings: Settings, *, cleanup: bool = True) -> AsyncIterator[FastAPI]:
    """A coordinator app with its lifespan entered; terminates its VMs on exit if asked."""
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        try:
            yield app
        finally:
            if cleanup:
                await terminate_everything(app.state.coordinator)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as application:
        yield application


@pytest.fixture
def core(app: FastAPI) -> Coordinator:
    coordinator: Coordinator = app.state.coordinator
    return coordinator


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def wait_active(client: httpx.AsyncClient, vm_id: str, headers: dict[str, str]) -> dict:
    """Poll ``GET /vms/{id}`` as the guide does until the VM is active."""
    for _ in range(200):
        body = (await client.get(f"/vms/{vm_id}", headers=headers)).json()
        if body["status"] == "active":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"VM {vm_id} never became active: {body}")


async def latest_deployment(client: httpx.AsyncClient, vm_id: str, headers: dict[str, str]) -> dict:
    resp = await client.get(f"/vms/{vm_id}/deployments", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"][0]


async def cleanup_with_fresh_core(settings: Settings) -> None:
    """Terminate every VM of a coordinator that ran elsewhere (another loop or process)."""
    core = Coordinator(settings)
    try:
        await terminate_everything(core)
    finally:
        await core.close()


async def wait_state(
    client: httpx.AsyncClient, vm_id: str, headers: dict[str, str], state: str
) -> dict:
    """Poll the VM's latest deployment until it is in ``state`` (or finished otherwise)."""
    for _ in range(1200):
        latest = await latest_deployment(client, vm_id, headers)
        if latest["state"] == state:
            return latest
        if latest["state"] in ("healthy", "failed", "stopped"):
            raise AssertionError(f"deployment ended {latest['state']}, not {state}: {latest}")
        await asyncio.sleep(0.1)
    raise AssertionError(f"deployment never reached {state}: {latest}")
