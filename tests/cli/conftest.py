"""A real coordinator (dev mode, SQLite, local provider, builtin runtime) on loopback, served
by uvicorn in a thread so the synchronous CLI can talk to it; its miners are removed after."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

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
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(build_app(settings), log_config=None))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the coordinator did not start"
        assert time.monotonic() < deadline, "the coordinator did not start in time"
        time.sleep(0.05)
    try:
        yield url
    finally:
        _delete_vms(url)
        server.should_exit = True
        thread.join(60)
        sock.close()


def _delete_vms(url: str) -> None:
    """Terminate every VM of the test wallet, so no miner process outlives the test."""
    headers = {"X-Wallet-Address": WALLET}
    vms = httpx.get(f"{url}/vms", headers=headers, timeout=30).json()["data"]
    for vm in vms:
        httpx.delete(f"{url}/vms/{vm['id']}", headers=headers, timeout=60)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
