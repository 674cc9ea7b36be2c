"""``tensornode up`` as a user runs it: a real subprocess that comes up with two healthy
miners, prints the URLs, stops every child on SIGINT, and reuses its VMs the next time."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from .ports import PORTS

UP_DEADLINE_S = 240


class Up:
    """A running ``tensornode up``, its stdout read line by line in a thread."""

    def __init__(self, data_dir: Path, port: int) -> None:
        argv = [sys.executable, "-m", "tensornode.cli.main", "up", "--port", str(port)]
        argv += ["--miners", "2", "--data-dir", str(data_dir)]
        env = dict(os.environ)
        for key, value in PORTS["up"].items():
            env[f"TENSORNODE_LOCAL_PROVIDER__{key.upper()}"] = str(value)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_ready(self) -> str:
        """Everything printed up to "Press Ctrl-C to stop."."""
        deadline = time.monotonic() + UP_DEADLINE_S
        while not self.stdout or not self.stdout[-1].startswith("Press Ctrl-C"):
            if self.proc.poll() is not None and self.lines.empty():
                raise AssertionError(f"up exited {self.proc.returncode}: {self.stderr()}")
            assert time.monotonic() < deadline, "up did not come up:\n" + "".join(self.stdout)
            try:
                self.stdout.append(self.lines.get(timeout=0.5))
            except queue.Empty:
                continue
        return "".join(self.stdout)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=120)

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def miner_pids(data_dir: Path) -> list[int]:
    """Pids of the miners whose deployments the coordinator has as healthy."""
    with sqlite3.connect(data_dir / "tensornode.db") as db:
        rows = db.execute("SELECT running FROM deployments WHERE state = 'healthy'").fetchall()
    return sorted({int(json.loads(running)["handle"]) for (running,) in rows})


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_gone(pids: list[int]) -> list[int]:
    deadline = time.monotonic() + 30
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def run_once(data_dir: Path) -> tuple[list[str], list[str]]:
    """Start up, check what it printed and its miners, SIGINT it; its VM ids and endpoints."""
    port = free_port()
    up = Up(data_dir, port)
    pids: list[int] = []
    try:
        printed = up.wait_ready()
        assert f"  coordinator  http://127.0.0.1:{port}\n" in printed
        assert f"  API docs     http://127.0.0.1:{port}/docs\n" in printed
        assert "  dev wallet   0.0.2001\n" in printed
        miners = re.findall(r"  miner        (http://\S+)  \((\S+), VM (\w+)\)", printed)
        assert len(miners) == 2, printed
        for endpoint, _, _ in miners:
            assert httpx.get(f"{endpoint}/health", timeout=5).json()["status"] == "healthy"
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
        pids = miner_pids(data_dir)
        assert len(pids) == 2 and all(alive(p) for p in pids)
        assert up.interrupt() == 0
        assert wait_gone(pids) == [], "miners outlived tensornode up"
        assert "stopped" in up.stderr()
    finally:
        up.close()
        if not pids and (data_dir / "tensornode.db").exists():
            pids = miner_pids(data_dir)
        for pid in pids:  # only if the test failed: leave nothing behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    return sorted(vm for _, _, vm in miners), sorted(e for e, _, _ in miners)


def test_up_serves_two_miners_stops_them_on_sigint_and_reuses_its_vms(tmp_path: Path) -> None:
    first_vms, _ = run_once(tmp_path)
    second_vms, _ = run_once(tmp_path)
    assert second_vms == first_vms  # the same VMs, no new ones
    with sqlite3.connect(tmp_path / "tensornode.db") as db:
        (count,) = db.execute("SELECT count(*) FROM vms").fetchone()
    assert count == 2
