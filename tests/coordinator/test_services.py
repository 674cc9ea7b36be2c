"""The service layer without HTTP: what the monitor calls (active miners, probes, events,
restart through the runtime)."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from factories import new_wallet, wallet
from tensornode.coordinator.core import Coordinator
from tensornode.errors import NotFound
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
