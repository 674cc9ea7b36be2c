"""Fixtures of the browser tests: a real coordinator on loopback in dev mode (local
provider, builtin runtime, SQLite) served by uvicorn from a thread, and Debian's chromium
driven by Playwright. Without /usr/bin/chromium the tests skip and say why."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from factories import free_port
from tensornode.config import Settings
from tensornode.coordinator.app import build_app
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import VM
from tensornode.providers.base import VMStatus

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHALLENGE_TTL_S = 10
EPOCH_SECONDS = 30  # short epochs, so a test sees one settle and pay its miner
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is absent (run `tests/setup-services.sh browser` to install it)"
    return None


def e2e_settings(data_dir: Path) -> Settings:
    """Dev mode on loopback, fast polls and rounds, short epochs and challenge lifetime."""
    return Settings(
        data_dir=data_dir,
        dev_mode=True,
        database_url=f"sqlite:///{data_dir / 'tensornode.db'}",
        coordinator={"health_deadline_s": 120.0, "health_poll_interval_s": 0.2},  # type: ignore[arg-type]
        local_provider={"launch_seconds": 0.2},  # type: ignore[arg-type]
        monitor={"interval_s": 1.0},  # type: ignore[arg-type]
        gateway={"flush_interval_s": 0.2, "refresh_interval_s": 0.2},  # type: ignore[arg-type]
        auth={"challenge_ttl_s": CHALLENGE_TTL_S},  # type: ignore[arg-type]
        validator={"round_interval_s": 2.0, "challenges_per_round": 2},  # type: ignore[arg-type]
        rewards={"epoch_seconds": EPOCH_SECONDS, "settle_interval_s": 1.0},  # type: ignore[arg-type]
    )


@dataclass
class LiveCoordinator:
    """A coordinator serving on loopback: its URL and its app (for the auth clock)."""

    url: str
    app: FastAPI


async def _terminate_all(settings: Settings) -> None:
    core = Coordinator(settings)
    try:
        async with core.db.session() as session:
            ids = list(await session.scalars(select(VM.id).where(VM.status != VMStatus.TERMINATED)))
        for vm_id in ids:
            await core.vms.delete(vm_id)
    finally:
        await core.close()


@pytest.fixture
async def coordinator(tmp_path: Path) -> AsyncIterator[LiveCoordinator]:
    settings = e2e_settings(tmp_path / "data")
    settings.ensure_data_dir()
    app = build_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the coordinator did not start")
        await asyncio.sleep(0.05)
    try:
        yield LiveCoordinator(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 60)
        await _terminate_all(settings)  # no miner process outlives the test


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    reason = chromium_missing()
    if reason is not None:
        print(f"skipping: {reason}")
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
