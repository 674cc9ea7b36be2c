"""The builtin runtime: a miner process on a local VM, found again after a restart."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from tensornode.config import Settings
from tensornode.errors import RuntimeFailure
from tensornode.miner.backends.tiny import tiny_model_dir
from tensornode.providers.local import LocalProvider
from tensornode.providers.local_host import LocalHost, process_start_time
from tensornode.runtimes.base import DeploymentContext, MinerSpec, RunningMiner
from tensornode.runtimes.builtin import BuiltinRuntime, miner_command
from tensornode.runtimes.registry import registry

from .conftest import MINERS, LogSink, deployment_id, wait_healthy

# the stdlib miner accepts (and ignores) ``miner serve --model ...``: the runtime's process
# handling is tested without depending on the reference miner's start-up
STDLIB_MINER = (sys.executable, str(MINERS / "stdlib_miner.py"))


def context(vm_id: str, port: int, *models: str) -> DeploymentContext:
    spec = MinerSpec(runtime="builtin", models=models or ("llm=tiny",))
    return DeploymentContext(deployment_id(), vm_id, spec, public_port=port)


async def test_start_serves_logs_and_stop_kills(
    tmp_path: Path, vm_host: tuple[str, LocalHost, int]
) -> None:
    vm_id, host, port = vm_host
    runtime = BuiltinRuntime(tmp_path, command=STDLIB_MINER)
    ctx = context(vm_id, port)
    log = LogSink()
    await runtime.build(host, ctx, log)
    running = await runtime.start(host, ctx, log)

    assert running.runtime == "builtin"
    assert running.endpoint == f"http://127.0.0.1:{port}"
    assert running.log_path == f"logs/miner-{ctx.deployment_id}.log"
    assert f"miner serve --host 127.0.0.1 --port {port} --model llm=tiny" in log.text
    assert await wait_healthy(running.endpoint) is not None
    async with httpx.AsyncClient() as client:
        chat = await client.post(f"{running.endpoint}/api/chat", json={"prompt": "hi there"})
    assert chat.json()["response"] == "echo: hi there"
    assert await runtime.is_running(host, running)
    logs = await runtime.logs(host, running)
    assert '"POST /api/chat HTTP/1.1" 200' in logs
    assert len((await runtime.logs(host, running, tail_lines=1)).splitlines()) == 1

    await runtime.stop(host, running)
    assert not await runtime.is_running(host, running)
    assert process_start_time(int(running.handle)) is None
    await runtime.stop(host, running)  # already stopped: no error


async def test_a_restarted_coordinator_adopts_and_stops_the_miner(
    tmp_path: Path, provider: LocalProvider, vm_host: tuple[str, LocalHost, int]
) -> None:
    vm_id, host, port = vm_host
    running = await BuiltinRuntime(tmp_path, command=STDLIB_MINER).start(
        host, context(vm_id, port), LogSink()
    )
    stored = RunningMiner(**vars(running))  # what the coordinator keeps as JSON

    restarted = LocalProvider(provider.root.parent, launch_seconds=0)
    new_host = restarted.host(await restarted.query(vm_id))
    runtime = BuiltinRuntime(tmp_path, command=STDLIB_MINER)
    assert await runtime.is_running(new_host, stored)
    await restarted.stop(vm_id)  # stopping the VM kills its miner
    assert not await runtime.is_running(new_host, stored)


async def test_bad_specs_fail_before_anything_starts(
    tmp_path: Path, vm_host: tuple[str, LocalHost, int]
) -> None:
    vm_id, host, port = vm_host
    runtime = BuiltinRuntime(tmp_path, command=STDLIB_MINER)
    with pytest.raises(RuntimeFailure, match="bad model spec '--evil'"):
        await runtime.build(host, context(vm_id, port, "--evil"), LogSink())
    docker_spec = DeploymentContext("d1", vm_id, MinerSpec(runtime="docker"), port)
    with pytest.raises(RuntimeFailure, match="not a builtin miner spec"):
        await runtime.start(host, docker_spec, LogSink())
    with pytest.raises(RuntimeFailure, match="not a pid"):
        await runtime.stop(host, RunningMiner("builtin", "abc", "http://127.0.0.1:1"))


async def test_logs_before_the_miner_wrote_anything_are_empty(
    tmp_path: Path, vm_host: tuple[str, LocalHost, int]
) -> None:
    _, host, _ = vm_host
    never = RunningMiner("builtin", "1", "http://127.0.0.1:1", log_path="logs/none.log")
    assert await BuiltinRuntime(tmp_path).logs(host, never) == ""


def test_the_registry_builds_the_builtin_runtime(tmp_path: Path) -> None:
    runtime = registry["builtin"](Settings(data_dir=tmp_path))
    assert isinstance(runtime, BuiltinRuntime)
    assert runtime.data_dir == tmp_path
    assert runtime.command == miner_command() == (sys.executable, "-m", "tensornode.cli.main")


async def test_the_reference_miner_runs_under_the_builtin_runtime(
    tmp_path: Path, vm_host: tuple[str, LocalHost, int]
) -> None:
    """The real ``tensornode miner serve`` with the tiny model, as ``tensornode up`` runs it."""
    vm_id, host, port = vm_host
    runtime = BuiltinRuntime(tmp_path)
    ctx = context(vm_id, port, "llm=tiny")
    log = LogSink()
    await runtime.build(host, ctx, log)
    running = await runtime.start(host, ctx, log)
    try:
        health = await wait_healthy(running.endpoint, deadline_s=180)
        assert health is not None, await runtime.logs(host, running)
        assert health.json()["status"] == "healthy"
        async with httpx.AsyncClient(timeout=60) as client:
            chat = await client.post(
                f"{running.endpoint}/api/chat", json={"prompt": "hello", "max_tokens": 5}
            )
        assert chat.status_code == 200, chat.text
        assert chat.json()["response"]
        assert await runtime.logs(host, running)
        # the miner's data dir is the coordinator's: one tiny-model cache for every miner
        assert tiny_model_dir(tmp_path).is_dir()
    finally:
        await runtime.stop(host, running)
    assert not await runtime.is_running(host, running)
