"""Start and stop real servers on loopback for the ``miner check`` tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

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
