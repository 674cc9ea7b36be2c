"""The service layer without HTTP: what the monitor calls (active miners, probes, events,
restart through the runtime)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from factories import new_wallet, wallet
from tensornode.coordinator.core import Coordinator
from tensornode.errors import NotFound
from tensornode.monitor.coordinator_fleet import CoordinatorFleet
from tensornode.monitor.probe import probe_health
from tensornode.runtimes.base import DeploymentState

from .conftest import ECHO


async def _healthy_miner(client: httpx.AsyncClient, core: Coordinator) -> tuple[str, dict]:
    who = wallet(new_wallet())
    resp = await client.post("/deploy", headers=who, json={"miner": {"models": [ECHO]}})
    vm_id = resp.json()["deployment"]["vmId"]
    await core.jobs.drain()
    vm = (await client.get(f"/vms/{vm_id}", headers=who)).json()
    assert vm["deploymentState"] == "healthy"
    return vm_id, vm


async def test_monitor_calls_list_probe_event_and_restart(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    vm_id, vm = await _healthy_miner(client, core)
    miner_id = vm["minerId"]
    active = await core.miners.active_miners()
    assert [(m.miner_id, m.endpoint, m.kind, m.vm_id) for m in active] == [
        (miner_id, vm["endpoint"], "managed", vm_id)
    ]
    pid = int(active[0].handle or "0")

    await core.miners.record_probe(miner_id, ok=True, latency_ms=12.5)
    await core.miners.record_probe(miner_id, ok=False, error="timeout")
    public = (await client.get(f"/miners/{miner_id}")).json()
    assert public["availability"] == 0.5
    assert public["lastProbeAt"] is not None

    deployment_id = active[0].deployment_id
    assert deployment_id is not None
    await core.deployments.record_event(deployment_id, "monitor: unhealthy: timeout")
    os.kill(pid, signal.SIGKILL)
    restarted = await core.deployments.restart_miner(miner_id)
    assert (restarted.restarts, restarted.status) == (1, "active")
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{restarted.endpoint}/health")).status_code == 200

    deps = await client.get(f"/vms/{vm_id}/deployments", headers={"X-Wallet-Address": vm["owner"]})
    events = deps.json()["data"][0]["events"]
    messages = [e["message"] for e in events]
    assert "monitor: unhealthy: timeout" in messages
    assert "restart requested: starting the miner again" in messages
    assert events[-1]["state"] == DeploymentState.HEALTHY.value
    assert (await client.get(f"/miners/{miner_id}")).json()["restarts"] == 1


async def test_restart_of_unknown_miner_is_not_found(core: Coordinator) -> None:
    with pytest.raises(NotFound, match="managed miner nope not found"):
        await core.deployments.restart_miner("nope")


async def test_dev_mode_vm_id_is_a_capability(client: httpx.AsyncClient) -> None:
    """The guide's script sends no wallet after /deploy: the VM id alone acts for it."""
    owner = new_wallet()
    vm_id = (await client.post("/deploy", json={"walletAddress": owner})).json()["deployment"][
        "vmId"
    ]
    anonymous = await client.get(f"/vms/{vm_id}")
    assert anonymous.status_code == 200 and anonymous.json()["owner"] == owner
    named_other = await client.get(f"/vms/{vm_id}", headers=wallet(new_wallet()))
    assert named_other.status_code == 404
    listing = await client.get("/vms")  # a list still needs to know whose
    assert listing.status_code == 401


async def test_a_200_from_another_process_on_the_port_is_not_our_miner(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    _, vm = await _healthy_miner(client, core)
    fleet = CoordinatorFleet(core.db, core.machines, core.jobs, core.deployments, core.miners)
    [miner] = await fleet.monitored_miners()
    assert miner.nonce is not None and miner.nonce_required
    async with httpx.AsyncClient(timeout=10) as http:
        health = (await http.get(f"{vm['endpoint']}/health")).json()
        assert health["nonce"] == miner.nonce
        ours = await probe_health(
            http, miner.endpoint, timeout=5, nonce=miner.nonce, nonce_required=True
        )
        assert ours.ok, ours.error

        os.kill(int(miner.handle or "0"), signal.SIGKILL)  # the miner dies; another takes its port
        port = vm["endpoint"].rsplit(":", 1)[1]
        stdlib = Path(__file__).resolve().parents[1] / "miners" / "stdlib_miner.py"
        impostor = subprocess.Popen(
            [sys.executable, str(stdlib), "--host", "127.0.0.1", "--port", port],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    if (await http.get(f"{vm['endpoint']}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            probe = await probe_health(
                http, miner.endpoint, timeout=5, nonce=miner.nonce, nonce_required=True
            )
        finally:
            impostor.terminate()
            impostor.wait(10)
    assert not probe.ok
    assert (
        probe.error == "/health reports no deployment nonce: another process answers on this port"
    )
