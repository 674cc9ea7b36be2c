"""Fixtures of the gateway tests: a real coordinator app (SQLite) and miners to route to.

``gateway_app`` is the coordinator with its lifespan entered (monitor off: miners are
inserted ``active`` as the monitor would keep them); tests reach it in-process
(``client``) or over loopback (``loopback.ThreadedServer``). ``add_miner`` registers a miner
row and refreshes the gateway's candidate set at once (burst mode, no sleeping).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from factories import make_settings, new_wallet
from tensornode.config import Settings
from tensornode.coordinator.app import build_app
from tensornode.db.models import Account, Miner, utcnow
from tensornode.db.session import Database
from tensornode.gateway.service import Gateway

GATEWAY_DEFAULTS: dict[str, Any] = {
    "refresh_interval_s": 0.2,
    "rate_limit_per_min": 1_000_000,
    "breaker_cooldown_s": 0.3,
    "attempt_timeout_s": 5.0,
    "deadline_s": 20.0,
    "flush_interval_s": 0.2,
}


def gateway_settings(tmp_path: Path, *, dev_mode: bool = True, **gateway: Any) -> Settings:
    settings = make_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'gw.db'}", dev_mode=dev_mode
    )
    return settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={**GATEWAY_DEFAULTS, **gateway})}
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return gateway_settings(tmp_path)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[FastAPI]:
    """The coordinator app with its lifespan (gateway included) entered."""
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(settings) as application:
        yield application


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=30
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


def gateway_of(app: FastAPI) -> Gateway:
    gateway: Gateway = app.state.gateway
    return gateway


async def add_miner(
    app: FastAPI, endpoint: str, *, subnet: str = "llm", owner: str | None = None
) -> str:
    """A healthy external miner row; the gateway's candidates refreshed at once."""
    owner = owner or new_wallet()
    core = app.state.coordinator
    async with core.db.session() as session:
        if await session.get(Account, owner) is None:
            session.add(Account(id=owner, created_at=utcnow()))
            await session.flush()
        miner = Miner(
            owner_id=owner, kind="external", name=endpoint, subnet=subnet,
            endpoint=endpoint, status="active", restarts=0, started_at=utcnow(),
        )  # fmt: skip
        session.add(miner)
    await refresh(app)
    return miner.id


async def set_status(app: FastAPI, miner_id: str, status: str) -> None:
    await app.state.coordinator.miners.set_status(miner_id, status)
    await refresh(app)


async def refresh(app: FastAPI) -> None:
    """Refresh the candidate set and let /info lookups finish."""
    pool = gateway_of(app).pool
    await pool.refresh()
    for _ in range(100):
        if not pool._info_tasks:
            break
        await asyncio.sleep(0.01)


async def seed_miners(
    settings: Settings, endpoints: list[str], *, subnet: str = "llm"
) -> list[str]:
    """Healthy miner rows in a migrated database, before a coordinator process starts."""
    db = Database.from_settings(settings)
    try:
        await asyncio.to_thread(db.migrate)
        owner = new_wallet()
        async with db.session() as session:
            session.add(Account(id=owner, created_at=utcnow()))
            await session.flush()
            miners = [
                Miner(
                    owner_id=owner,
                    kind="external",
                    name=url,
                    subnet=subnet,
                    endpoint=url,
                    status="active",
                    restarts=0,
                    started_at=utcnow(),
                )
                for url in endpoints
            ]
            session.add_all(miners)
        return [m.id for m in miners]
    finally:
        await db.dispose()
