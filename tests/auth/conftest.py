"""Fixtures of the sign-in tests: a real coordinator app (SQLite, or PostgreSQL where the
test asks for ``db_url``), its auth service, and helpers that sign in over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from coordinator.conftest import cleanup_with_fresh_core, client_for, running_app
from factories import (
    DB_BACKENDS,
    database_url,
    make_settings,
    new_wallet,
    production_overrides,
)
from loopback import serving_in_thread
from tensornode.auth.keys import register_key
from tensornode.auth.service import AuthService
from tensornode.auth.signatures import parse_public_key
from tensornode.config import AuthSettings, MonitorSettings, Settings
from tensornode.coordinator.app import build_app

from .wallets import Wallet

AppFactory = Callable[..., AbstractAsyncContextManager[FastAPI]]


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    with database_url(request.param, tmp_path) as url:
        yield url


def auth_settings(data_dir: Path, db_url: str, *, dev_mode: bool, **auth: Any) -> Settings:
    settings = make_settings(data_dir, db_url, dev_mode=dev_mode)
    settings.auth = AuthSettings(**{**production_overrides(dev_mode)["auth"], **auth})
    return settings


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """``async with make_app(dev_mode=..., **auth_settings) as app``: SQLite by default."""

    @asynccontextmanager
    async def factory(
        *, dev_mode: bool = True, db_url: str | None = None, **auth: Any
    ) -> AsyncIterator[FastAPI]:
        url = db_url or f"sqlite:///{tmp_path / 'auth.db'}"
        settings = auth_settings(tmp_path / "data", url, dev_mode=dev_mode, **auth)
        async with running_app(settings) as app:
            yield app

    return factory


def auth_of(app: FastAPI) -> AuthService:
    service: AuthService = app.state.auth
    return service


async def register(app: FastAPI, wallet: Wallet, account_id: str | None = None) -> str:
    """Put the wallet's key on the local ledger directly (as an operator would)."""
    account_id = account_id or new_wallet()
    async with auth_of(app).db.session() as session:
        await register_key(session, account_id, parse_public_key(wallet.public_hex))
    return account_id


async def challenge(client: httpx.AsyncClient, account_id: str) -> dict[str, Any]:
    resp = await client.post("/auth/challenge", json={"accountId": account_id})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def sign_in(client: httpx.AsyncClient, wallet: Wallet, account_id: str) -> httpx.Response:
    """challenge -> sign -> verify; the verify response."""
    issued = await challenge(client, account_id)
    return await client.post(
        "/auth/verify",
        json={
            "accountId": account_id,
            "challengeId": issued["challengeId"],
            "signature": wallet.sign(issued["message"]).hex(),
        },
    )


@pytest.fixture
async def dev_app(make_app: AppFactory) -> AsyncIterator[FastAPI]:
    async with make_app(dev_mode=True) as app:
        yield app


@pytest.fixture
async def client(dev_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(dev_app) as c:
        yield c


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, database URL) of a dev coordinator in a thread (the CLI is synchronous)."""
    db_url = f"sqlite:///{tmp_path / 'coordinator.db'}"
    settings = Settings(
        data_dir=tmp_path / "coordinator",
        dev_mode=True,
        database_url=db_url,
        monitor=MonitorSettings(enabled=False),
    )
    with serving_in_thread(build_app(settings)) as url:
        try:
            yield url, db_url
        finally:
            asyncio.run(cleanup_with_fresh_core(settings))  # no VM outlives the test
