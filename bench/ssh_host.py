"""What a remote VM's SSH host costs the coordinator: commands, processes and files over a
real OpenSSH server on loopback (Debian's sshd, started here as the tests start it).

    .venv/bin/python bench/ssh_host.py                     # defaults below
    .venv/bin/python bench/ssh_host.py --commands 500 --file-mib 16

- connect: the first command on a new connection (TCP, key exchange, Ed25519 login,
  host key pinned) — what a coordinator pays once per VM after a start;
- command: ``run(["true"])`` on the kept-alive connection, one at a time (a channel,
  ``timeout``, the exit status): p50/p95/p99 — what each monitor check
  (``docker inspect``) and each step of a deployment adds on top of the command itself;
- process: ``spawn`` + ``is_alive`` + ``kill`` of a sleeping process (the builtin
  runtime's start, check and stop);
- files: SFTP write and read of ``--file-mib`` MiB (a Dockerfile or the wheel copied over).

Loopback hides the network: on a real VM add the round-trip time to each command. Each
command starts the login user's shell, which sshd makes read ``~/.bashrc``: a slow one
(``eval "$(pyenv init -)"``) dominates the figures; a stock Ubuntu VM's returns at once
for non-interactive shells.
Prints a table and writes JSON to ``bench/results/ssh_host-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the sshd the tests start

from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from sshd import SSHD, start_sshd  # noqa: E402
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget  # noqa: E402
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyPins  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(root: Path, commands: int, cycles: int, file_mib: int) -> dict[str, Any]:
    server = start_sshd(root / "sshd")
    connector = SSHConnector(CoordinatorKey(server.client_key), HostKeyPins(root / "kh"))
    host = SSHHost(
        "bench", connector, SSHTarget("127.0.0.1", server.port, server.user),
        address="127.0.0.1", workdir=str(root / "vm"),
    )  # fmt: skip
    try:
        started = time.perf_counter()
        await host.run(["true"])
        connect_ms = (time.perf_counter() - started) * 1000
        latencies: list[float] = []
        cycle_ms: list[float] = []
        with Progress() as progress:
            task = progress.add_task("commands", total=commands)
            for _ in range(commands):
                t0 = time.perf_counter()
                await host.run(["true"])
                latencies.append((time.perf_counter() - t0) * 1000)
                progress.advance(task)
            task = progress.add_task("processes", total=cycles)
            for _ in range(cycles):
                t0 = time.perf_counter()
                pid = await host.spawn(["sleep", "60"], log_path="logs/bench.log")
                assert await host.is_alive(pid)
                await host.kill(pid, grace=1.0)
                cycle_ms.append((time.perf_counter() - t0) * 1000)
                progress.advance(task)
        data = os.urandom(file_mib * 1024 * 1024)
        t0 = time.perf_counter()
        await host.write_file("blob", data)
        write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = await host.read_file("blob")
        read_s = time.perf_counter() - t0
        assert back == data
    finally:
        await connector.close()
        server.stop()
    return {
        "connect_ms": round(connect_ms, 1),
        "command_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(percentile(latencies, 0.95), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "n": commands,
        },
        "spawn_check_kill_ms": {"p50": round(statistics.median(cycle_ms), 1), "n": cycles},
        "sftp_mib_per_s": {
            "write": round(file_mib / write_s, 1),
            "read": round(file_mib / read_s, 1),
            "mib": file_mib,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--file-mib", type=int, default=8)
    args = parser.parse_args()
    if not SSHD.exists():
        sys.exit("needs Debian's openssh-server (tests/setup-services.sh sshd installs it)")
    with tempfile.TemporaryDirectory(prefix="tn-bench-ssh-") as tmp:
        figures = asyncio.run(measure(Path(tmp), args.commands, args.cycles, args.file_mib))
    table = Table(title="SSH host over loopback sshd")
    table.add_column("what")
    table.add_column("figure", justify="right")
    table.add_row("connect + first command", f"{figures['connect_ms']} ms")
    for q in ("p50", "p95", "p99"):
        table.add_row(f"command round trip {q}", f"{figures['command_ms'][q]} ms")
    table.add_row("spawn + is_alive + kill p50", f"{figures['spawn_check_kill_ms']['p50']} ms")
    table.add_row("SFTP write", f"{figures['sftp_mib_per_s']['write']} MiB/s")
    table.add_row("SFTP read", f"{figures['sftp_mib_per_s']['read']} MiB/s")
    Console().print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {"bench": "ssh_host", "at": stamp, "args": vars(args), "machine": platform.node(),
              "cpus": os.cpu_count(), **figures}  # fmt: skip
    path = out / f"ssh_host-{stamp}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
