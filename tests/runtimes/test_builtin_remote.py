"""The builtin runtime on a remote host, over the real sshd on loopback: this
coordinator's package shipped as a wheel, installed in a venv on the host, the miner
served under a loop that restarts it, stopped with its loop.

The host here has no network: the venv is made ``--without-pip --system-site-packages``
(Debian's pip from the system site), the wheel installed ``--no-deps``, and the miner
finds its dependencies through ``PYTHONPATH`` (this test run's site-packages) — the
settings a host behind a package mirror would change (``TENSORNODE_REMOTE_MINER__...``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sysconfig
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sshd import SSHServer
from tensornode.config import RemoteMinerSettings
from tensornode.errors import RuntimeFailure
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyPins
from tensornode.runtimes.base import DeploymentContext, MinerSpec
from tensornode.runtimes.builtin import BuiltinRuntime
from tensornode.runtimes.remote_miner import needs_torch
from tensornode.runtimes.self_wheel import build_self_wheel

from .conftest import LogSink, deployment_id

SYSTEM_PYTHON = Path("/usr/bin/python3")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def remote(sshd: SSHServer, tmp_path: Path) -> AsyncIterator[SSHHost]:
    connector = SSHConnector(
        CoordinatorKey(sshd.client_key), HostKeyPins(tmp_path / "known_hosts"), connect_timeout=5
    )
    target = SSHTarget("127.0.0.1", sshd.port, sshd.user)
    yield SSHHost("vm-b", connector, target, address="127.0.0.1", workdir=str(tmp_path / "vm"))
    await connector.close()


def offline_runtime(data_dir: Path) -> BuiltinRuntime:
    settings = RemoteMinerSettings(
        python=str(SYSTEM_PYTHON),
        venv_args=["--without-pip", "--system-site-packages"],
        pip_args=["--no-deps", "--no-index"],
        env={"PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    return BuiltinRuntime(data_dir, remote=settings)


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


async def healthy(endpoint: str, deadline_s: float = 60.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < end:
            try:
                if (await client.get(f"{endpoint}/health")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass  # not listening yet: poll again
            await asyncio.sleep(0.2)
    return False


def test_the_wheel_is_the_running_package_and_built_once(tmp_path: Path) -> None:
    wheel = build_self_wheel(tmp_path)
    assert build_self_wheel(tmp_path) == wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "tensornode/cli/main.py" in names and "tensornode/db/migrations/env.py" in names
    info = next(n for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(wheel).read(info).decode()
    assert "Provides-Extra: miner" in metadata
    assert not any("__pycache__" in n for n in names)
    assert needs_torch(["llm=tiny"]) and not needs_torch(["llm=echo", "code=openai:http://x"])


async def test_builtin_miner_is_installed_supervised_and_stopped_over_ssh(
    remote: SSHHost, tmp_path: Path
) -> None:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 on this machine to act as the host's python")
    runtime = offline_runtime(tmp_path / "coordinator")
    port = free_port()
    ctx = DeploymentContext(
        deployment_id(), "vm-b", MinerSpec("builtin", 3000, ("llm=echo",)), port
    )
    log = LogSink()
    await runtime.build(remote, ctx, log)
    assert any(line.startswith("installed tensornode-") for line in log.lines), log.text
    assert (Path(remote.workdir) / "venv" / "bin" / "python").exists()

    running = await runtime.start(remote, ctx, log)
    try:
        assert running.endpoint == f"http://127.0.0.1:{port}"
        assert await healthy(running.endpoint), await runtime.logs(remote, running)
        supervisor = int(running.handle)
        (miner,) = children(supervisor)
        os.kill(miner, signal.SIGKILL)  # the miner crashes: the loop brings it back
        assert await healthy(running.endpoint)
        assert "restarting in 2 s" in await runtime.logs(remote, running)
        assert await runtime.is_running(remote, running)

        again = LogSink()
        await runtime.build(remote, ctx, again)  # same wheel: the venv is kept
        assert "tensornode is installed on the host" in again.text
    finally:
        await runtime.stop(remote, running)
    assert not await runtime.is_running(remote, running)
    assert not await healthy(running.endpoint, deadline_s=1.0)


async def test_a_host_without_python_is_told_what_to_install(
    remote: SSHHost, tmp_path: Path
) -> None:
    runtime = BuiltinRuntime(
        tmp_path / "coordinator", remote=RemoteMinerSettings(python="python3-not-here")
    )
    ctx = DeploymentContext(
        deployment_id(), "vm-b", MinerSpec("builtin", 3000, ("llm=echo",)), free_port()
    )
    with pytest.raises(RuntimeFailure) as info:
        await runtime.build(remote, ctx, LogSink())
    assert info.value.message.startswith(
        "cannot make a Python venv on the host with python3-not-here (exit 127)"
    )
    assert "Install python3 and python3-venv there" in info.value.message
