"""Deploying the builtin miner as a background job: real child processes on loopback."""

from __future__ import annotations

import asyncio

import httpx

from factories import new_wallet, wallet
from loopback import ThreadedServer
from tensornode.config import Settings
from tensornode.coordinator.app import build_app
from tensornode.coordinator.core import Coordinator

from .conftest import (
    ECHO,
    cleanup_with_fresh_core,
    latest_deployment,
    wait_active,
    wait_state,
)


async def _deploy_with_miner(
    client: httpx.AsyncClient, who: dict[str, str], model: str = ECHO
) -> dict:
    resp = await client.post(
        "/deploy",
        headers=who,
        json={"instanceName": "llm-miner-1", "miner": {"models": [model], "port": 3000}},
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_deploy_with_miner_spec_ends_healthy_and_serves(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    who = wallet(new_wallet())
    body = await _deploy_with_miner(client, who, "llm=tiny")  # the real model, end to end
    vm_id = body["deployment"]["vmId"]
    assert body["deployment"]["vmName"] == "llm-miner-1"
    assert [d["state"] for d in body["minerDeployments"]] == ["queued"]
    await core.jobs.drain()

    dep = await latest_deployment(client, vm_id, who)
    assert dep["state"] == "healthy", dep
    states = [e["state"] for e in dep["events"]]
    assert states[0] == "queued" and states[-1] == "healthy"
    assert {"building", "starting"} <= set(states)
    vm = (await client.get(f"/vms/{vm_id}", headers=who)).json()
    assert vm["status"] == "active"
    assert vm["deploymentState"] == "healthy"
    assert vm["endpoint"] == dep["endpoint"]
    # the miner answers the guide's API at the endpoint the coordinator reports
    async with httpx.AsyncClient(timeout=30) as http:
        chat = await http.post(f"{vm['endpoint']}/api/chat", json={"prompt": "Say hello."})
    assert chat.status_code == 200
    assert chat.json()["response"]

    miner = (await client.get(f"/miners/{vm['minerId']}")).json()
    assert miner["status"] == "active"
    assert miner["owner"] == who["X-Wallet-Address"]
    assert miner["subnet"] == "llm"
    assert miner["vmId"] == vm_id
    assert miner["endpoint"] == vm["endpoint"]
    assert miner["requestCount"] == 0 and miner["restarts"] == 0
    assert miner["uptimeSeconds"] >= 0


async def test_logs_tail_stop_and_restart(client: httpx.AsyncClient, core: Coordinator) -> None:
    who = wallet(new_wallet())
    vm_id = (await _deploy_with_miner(client, who))["deployment"]["vmId"]
    await core.jobs.drain()

    logs = await client.get(f"/vms/{vm_id}/logs", headers=who, params={"tail": 500})
    assert logs.status_code == 200
    assert logs.headers["content-type"].startswith("text/plain")
    assert "healthy: healthy at http://127.0.0.1:" in logs.text
    assert "miner serve --host 127.0.0.1" in logs.text  # the runtime's build/start output
    assert "--- miner output ---" in logs.text
    tail = await client.get(f"/vms/{vm_id}/logs", headers=who, params={"tail": 1})
    assert len(tail.text.split("--- miner output ---")[0].splitlines()) == 1

    endpoint = (await latest_deployment(client, vm_id, who))["endpoint"]
    stopped = await client.post(f"/vms/{vm_id}/docker/stop", headers=who)
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["state"] == "stopped"
    async with httpx.AsyncClient() as http:
        try:
            await http.get(f"{endpoint}/health", timeout=2)
            still_up = True
        except httpx.TransportError:
            still_up = False
    assert not still_up, "the stopped miner still answers"
    again = await client.post(f"/vms/{vm_id}/docker/stop", headers=who)
    assert again.status_code == 409
    assert again.json() == {"error": f"VM {vm_id} has no miner to stop"}

    restarted = await client.post(f"/vms/{vm_id}/restart", headers=who)
    assert restarted.status_code == 202
    await core.jobs.drain()
    deps = (await client.get(f"/vms/{vm_id}/deployments", headers=who)).json()
    assert deps["count"] == 2
    assert [d["state"] for d in deps["data"]] == ["healthy", "stopped"]
    miner = (await client.get("/miners", params={"owner": who["X-Wallet-Address"]})).json()
    assert miner["count"] == 1 and miner["data"][0]["status"] == "active"


async def test_new_deploy_replaces_the_previous_one(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    who = wallet(new_wallet())
    vm_id = (await _deploy_with_miner(client, who))["deployment"]["vmId"]
    await wait_active(client, vm_id, who)
    # replace it while the first one may still be building or starting
    resp = await client.post(f"/vms/{vm_id}/miner", headers=who, json={"models": [ECHO]})
    assert resp.status_code == 202
    await core.jobs.drain()
    deps = (await client.get(f"/vms/{vm_id}/deployments", headers=who)).json()["data"]
    assert [d["state"] for d in deps] == ["healthy", "stopped"]
    assert deps[1]["events"][-1]["message"] == f"replaced by deployment {deps[0]['id']}"
    # one miner for the VM, running the new deployment
    miners = (await client.get("/miners", params={"owner": who["X-Wallet-Address"]})).json()
    assert miners["count"] == 1
    assert miners["data"][0]["endpoint"] == deps[0]["endpoint"]


async def test_logs_follow_streams_new_lines(settings: Settings) -> None:
    """``?follow=true`` over a real server: new log lines arrive while the client waits."""
    who = wallet(new_wallet())
    try:
        async with (
            ThreadedServer(build_app(settings)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=60) as client,
        ):
            vm_id = (await _deploy_with_miner(client, who))["deployment"]["vmId"]
            await wait_state(client, vm_id, who, "healthy")
            seen: list[str] = []

            async def follow() -> None:
                headers = {**who, "Accept": "text/event-stream"}
                params = {"follow": "true", "tail": 2}
                async with client.stream(
                    "GET", f"/vms/{vm_id}/logs", headers=headers, params=params
                ) as resp:
                    assert resp.headers["content-type"].startswith("text/event-stream")
                    async for line in resp.aiter_lines():
                        seen.append(line)
                        if "stopped: stopped by its owner" in line:
                            return

            task = asyncio.create_task(follow())
            while not seen:  # the tail arrived: the stream is open
                await asyncio.sleep(0.05)
            await client.post(f"/vms/{vm_id}/docker/stop", headers=who)
            await asyncio.wait_for(task, 60)
    finally:
        await cleanup_with_fresh_core(settings)
    data = [line for line in seen if line.startswith("data: ")]
    assert "healthy: healthy at http://127.0.0.1:" in data[-2]
    assert "stopped: stopped by its owner" in data[-1]
