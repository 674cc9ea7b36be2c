"""A real coordinator (dev mode, SQLite, local provider, builtin runtime) on loopback, served
by uvicorn in a thread so the synchronous CLI can talk to it; its miners are removed after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from loopback import serving_in_thread
from tensornode.config import LocalProviderSettings, MonitorSettings, Settings
from tensornode.coordinator.app import build_app

from .ports import PORTS

WALLET = "0.0.1001"


@pytest.fixture
def coordinator_url(tmp_path: Path) -> Iterator[str]:
    # the monitor's loop is off: these tests are about the CLI, not about restarts
    monitor = MonitorSettings(enabled=False)
    settings = Settings(
        data_dir=tmp_path / "coordinator",
        dev_mode=True,
        monitor=monitor,
        local_provider=LocalProviderSettings(**PORTS["cli"]),
    )
    with serving_in_thread(build_app(settings)) as url:
        try:
            yield url
        finally:
            _delete_vms(url)


def _delete_vms(url: str) -> None:
    """Terminate every VM of the test wallet, so no miner process outlives the test."""
    headers = {"X-Wallet-Address": WALLET}
    vms = httpx.get(f"{url}/vms", headers=headers, timeout=30).json()["data"]
    for vm in vms:
        httpx.delete(f"{url}/vms/{vm['id']}", headers=headers, timeout=60)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
