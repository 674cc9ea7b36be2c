"""A killed miner comes back without anyone acting: a real coordinator (in-process, SQLite,
local provider), a real builtin miner process, ``kill -9``, the monitor in burst mode."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tensornode.config import LocalProviderSettings, MonitorSettings, Settings
from tensornode.contracts.coordinator import Constraints
from tensornode.coordinator.accounts import get_or_create_account
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import VM, Deployment, DeploymentEvent, Miner
from tensornode.monitor.coordinator_fleet import CoordinatorFleet
from tensornode.monitor.monitor import Monitor

WALLET = "0.0.1001"


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Coordinator]:
    # a port range of its own: no miner of a suite running beside this one answers on ours
    ports = LocalProviderSettings(port_range_start=33000, port_range_end=33999)
    settings = Settings(data_dir=tmp_path, dev_mode=True, local_provider=ports)
    coordinator = Coordinator(settings)
    await coordinator.start()
    try:
        yield coordinator
    finally:
        async with coordinator.db.session() as session:
            vm_ids = list(await session.scalars(select(VM.id).where(VM.status != "terminated")))
        for vm_id in vm_ids:
            await coordinator.vms.delete(vm_id)  # stops its miner: no process outlives a test
        await coordinator.close()


async def deploy_miner(core: Coordinator) -> tuple[Miner, Deployment]:
    async with core.db.session() as session:
        await get_or_create_account(session, WALLET)
    (vm,) = await core.vms.create(
        WALLET, name="m1", constraints=Constraints(), open_ports=None, instances=1
    )
    await core.deployments.deploy_builtin(vm.id, ["llm=echo"])  # the model does not matter here
    await core.jobs.wait(vm.id)
    async with core.db.session() as session:
        miner = await session.scalar(select(Miner).where(Miner.vm_id == vm.id))
        assert miner is not None, "the deployment did not produce a miner"
        dep = await session.get(Deployment, miner.deployment_id)
        assert dep is not None and dep.state == "healthy", dep and dep.reason
    return miner, dep


def pid_of(dep: Deployment) -> int:
    assert dep.running is not None
    return int(dep.running["handle"])


def wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rindex(")") + 2] == "Z":
            return  # dead, waiting to be reaped
        assert time.monotonic() < deadline, f"pid {pid} still alive"
        time.sleep(0.05)


async def test_a_killed_miner_is_restarted_and_healthy_again(core: Coordinator) -> None:
    miner, dep = await deploy_miner(core)
    monitor = Monitor(
        CoordinatorFleet(core.db, core.machines, core.jobs, core.deployments, core.miners),
        MonitorSettings(restart_backoff_s=0, interval_s=0.1),
        client=core.http,
    )
    try:
        await kill_and_watch_recovery(core, monitor, miner, dep)
    finally:
        await monitor.close()


async def kill_and_watch_recovery(
    core: Coordinator, monitor: Monitor, miner: Miner, dep: Deployment
) -> None:
    old_pid = pid_of(dep)
    report = await monitor.run_once()
    assert report.checked == 1
    assert report.events == {}  # healthy: nothing to say

    os.kill(old_pid, signal.SIGKILL)
    await asyncio.to_thread(wait_gone, old_pid)

    kinds: list[str] = []
    deadline = time.monotonic() + 120
    while "recovered" not in kinds:
        assert time.monotonic() < deadline, f"no recovery, events so far: {kinds}"
        report = await monitor.run_once()
        kinds += [e.kind.value for e in report.events.get(miner.id, [])]
    assert kinds == ["unhealthy", "restart_scheduled", "restarted", "recovered"]

    async with core.db.session() as session:
        row = await session.get(Miner, miner.id)
        dep_now = await session.get(Deployment, dep.id)
        messages = list(
            await session.scalars(
                select(DeploymentEvent.message)
                .where(DeploymentEvent.deployment_id == dep.id)
                .order_by(DeploymentEvent.id)
            )
        )
    assert row is not None and dep_now is not None
    assert row.restarts == 1
    assert row.status == "active"
    new_pid = pid_of(dep_now)
    assert new_pid != old_pid
    restarted = [m for m in messages if m.startswith("monitor: restarted")]
    assert restarted == [f"monitor: restarted: attempt 1: {old_pid} -> {new_pid}"]
    assert "monitor: unhealthy: the miner's process is not running" in messages
    assert "monitor: recovered: healthy again after 1 restart(s)" in messages
    response = httpx.get(f"{row.endpoint}/health", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "healthy"
    metrics = monitor.metrics.render().decode()
    assert 'tensornode_miner_restarts_total{outcome="ok"} 1.0' in metrics
    assert f'tensornode_miner_up{{miner_id="{miner.id}"}} 1.0' in metrics
