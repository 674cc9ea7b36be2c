"""A coordinator restart loses nothing: VMs re-queried, miners re-adopted or restarted,
a deployment caught mid-build run again."""

from __future__ import annotations

import os
import signal

import httpx

from factories import new_wallet, wallet
from tensornode.config import Settings
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import Deployment
from tensornode.runtimes.base import DeploymentState

from .conftest import ECHO, client_for, running_app, wait_active


async def _health(endpoint: str) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{endpoint}/health")).status_code


async def _deployments(client: httpx.AsyncClient, who: dict[str, str]) -> dict[str, dict]:
    vms = (await client.get("/vms", headers=who)).json()["data"]
    found = {}
    for vm in vms:
        resp = await client.get(f"/vms/{vm['id']}/deployments", headers=who)
        found[vm["id"]] = resp.json()["data"][0] if resp.json()["data"] else {}
    return found


async def test_restart_keeps_vms_and_readopts_miners(settings: Settings) -> None:
    who = wallet(new_wallet())
    async with running_app(settings, cleanup=False) as app, client_for(app) as client:
        resp = await client.post(
            "/deploy", headers=who, json={"instances": 2, "miner": {"models": [ECHO]}}
        )
        assert resp.status_code == 201
        idle = (await client.post("/deploy", headers=who, json={})).json()["deployment"]["vmId"]
        await wait_active(client, idle, who)
        core: Coordinator = app.state.coordinator
        await core.jobs.drain()
        before = await _deployments(client, who)
        vms_before = (await client.get("/vms", headers=who)).json()
    # the coordinator is gone; its miners are not
    running = [d for d in before.values() if d]
    assert [d["state"] for d in running] == ["healthy", "healthy"]
    for dep in running:
        assert await _health(dep["endpoint"]) == 200
    killed, kept = running
    pid = int(killed["events"][-2]["message"].split()[2].rstrip("),"))
    os.kill(pid, signal.SIGKILL)

    async with running_app(settings) as app, client_for(app) as client:
        await app.state.coordinator.jobs.drain()
        vms_after = (await client.get("/vms", headers=who)).json()
        after = await _deployments(client, who)
        assert vms_after["count"] == 3
        assert {v["id"]: v["status"] for v in vms_after["data"]} == {
            v["id"]: "active" for v in vms_before["data"]
        }
        readopted = after[kept["vmId"]]
        assert readopted["id"] == kept["id"] and readopted["state"] == "healthy"
        assert readopted["endpoint"] == kept["endpoint"]
        assert readopted["events"][-1]["message"] == "re-adopted after coordinator restart"
        assert await _health(kept["endpoint"]) == 200

        restarted = after[killed["vmId"]]
        assert restarted["id"] == killed["id"] and restarted["state"] == "healthy"
        messages = [e["message"] for e in restarted["events"]]
        assert (
            "coordinator restarted and the miner was not running: starting the miner again"
            in messages
        )
        assert await _health(restarted["endpoint"]) == 200
        miners = (await client.get("/miners", params={"owner": who["X-Wallet-Address"]})).json()
        assert sorted(m["status"] for m in miners["data"]) == ["active", "active"]
        assert after[idle] == {}


async def test_deployment_caught_building_is_run_again(settings: Settings) -> None:
    who = wallet(new_wallet())
    async with running_app(settings, cleanup=False) as app, client_for(app) as client:
        vm_id = (await client.post("/deploy", headers=who, json={})).json()["deployment"]["vmId"]
        await wait_active(client, vm_id, who)
        core: Coordinator = app.state.coordinator
        # what a crash during a build leaves: a deployment row in "building", no process
        async with core.db.session() as session:
            dep = Deployment(
                vm_id=vm_id, runtime="builtin", source="builtin", port=3000, public_port=3000,
                models=[ECHO], env={}, state=DeploymentState.BUILDING.value,
            )  # fmt: skip
            session.add(dep)
    async with running_app(settings) as app, client_for(app) as client:
        await app.state.coordinator.jobs.drain()
        deps = (await client.get(f"/vms/{vm_id}/deployments", headers=who)).json()["data"]
        assert len(deps) == 1 and deps[0]["id"] == dep.id
        assert deps[0]["state"] == "healthy"
        assert deps[0]["events"][0] == {
            "at": deps[0]["events"][0]["at"],
            "state": "queued",
            "message": "coordinator restarted during build: running it again",
        }
        assert await _health(deps[0]["endpoint"]) == 200
