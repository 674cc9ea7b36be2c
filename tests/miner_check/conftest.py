"""Real miners on loopback for ``miner check``: the guide's Flask example, the broken
miner (tests/miners/) and the reference miner (``tensornode miner serve``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

MINERS = Path(__file__).resolve().parent.parent / "miners"
TENSORNODE = Path(sys.executable).parent / "tensornode"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def _wait_ready(proc: subprocess.Popen[bytes], url: str, deadline_s: float, log: Path) -> None:
    """Poll the /health ``url`` until it answers 200 with a body saying ``healthy``."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}:\n{_log_tail(log)}")
        try:
            resp: httpx.Response | None = httpx.get(url, timeout=2.0)
        except httpx.TransportError:
            resp = None  # not listening yet
        if resp is not None and resp.status_code == 200 and b'"healthy"' in resp.content:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {deadline_s} s:\n{_log_tail(log)}")


def start_server(
    cmd: Sequence[str], ready_url: str, log: Path, *, env: dict[str, str], deadline_s: float
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with output to ``log`` and wait until ``ready_url`` answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_ready(proc, ready_url, deadline_s, log)
    except BaseException:
        stop_server(proc)
        raise
    return proc


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def guide_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The miner guide's Flask example, run as the guide says (``python api/server.py``)."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    log = tmp_path_factory.mktemp("guide") / "server.log"
    cmd = [sys.executable, str(MINERS / "guide_flask_miner.py")]
    proc = start_server(cmd, f"http://127.0.0.1:{port}/health", log, env=env, deadline_s=30)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def broken_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Root URL of the broken miner; ``f"{url}/b/<break>"`` selects a way to break."""
    port = free_port()
    log = tmp_path_factory.mktemp("broken") / "server.log"
    cmd = [sys.executable, str(MINERS / "broken_miner.py"), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(cmd, f"{url}/health", log, env=dict(os.environ), deadline_s=30)
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def reference_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tensornode miner serve`` on loopback; it builds its tiny model on first use."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("reference")
    cmd = [
        str(TENSORNODE),
        "miner",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "data"),
    ]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(
        cmd, f"{url}/health", tmp / "server.log", env=dict(os.environ), deadline_s=180
    )
    yield url
    stop_server(proc)
