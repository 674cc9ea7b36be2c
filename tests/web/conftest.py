"""Fixtures of the web page tests: a coordinator app (dev mode, SQLite) reached in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from factories import production_overrides
from tensornode.config import Settings
from tensornode.coordinator.app import build_app


def web_settings(tmp_path: Path, *, dev_mode: bool = True) -> Settings:
    """No background loops: these tests read pages and charts, nothing runs."""
    prod = production_overrides(dev_mode)
    return Settings(
        data_dir=tmp_path / "data",
        dev_mode=dev_mode,
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        monitor={"enabled": False},  # type: ignore[arg-type]
        validator={"round_interval_s": 3600.0, **prod["validator"]},  # type: ignore[arg-type]
        rewards={"settle_interval_s": 3600.0, **prod["rewards"]},  # type: ignore[arg-type]
        coordinator=prod["coordinator"],  # type: ignore[arg-type]
        auth=prod["auth"],  # type: ignore[arg-type]
    )


async def _serve(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield app, client


@pytest.fixture
async def app_client(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in _serve(web_settings(tmp_path)):
        yield pair


@pytest.fixture
async def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]


@pytest.fixture
async def production_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for _, client in _serve(web_settings(tmp_path, dev_mode=False)):
        yield client
