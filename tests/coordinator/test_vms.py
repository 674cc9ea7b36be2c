"""VM lifecycle through the API: list with filters and pages, patch, allocate, prices."""

from __future__ import annotations

from decimal import Decimal

import httpx

from factories import new_wallet, wallet
from tensornode.coordinator.core import Coordinator

from .conftest import wait_active


async def test_pagination_and_filters(client: httpx.AsyncClient) -> None:
    who = wallet(new_wallet())
    resp = await client.post("/deploy", headers=who, json={"instances": 5, "instanceName": "fleet"})
    assert resp.status_code == 201
    names = [vm["name"] for vm in resp.json()["vms"]]
    assert names == ["fleet-1", "fleet-2", "fleet-3", "fleet-4", "fleet-5"]
    for vm in resp.json()["vms"]:
        await wait_active(client, vm["id"], who)

    pages = []
    for offset in (0, 2, 4):
        page = (await client.get("/vms", headers=who, params={"limit": 2, "offset": offset})).json()
        assert page["count"] == 5
        pages.append([vm["name"] for vm in page["data"]])
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(name for page in pages for name in page) == sorted(names)

    named = (await client.get("/vms", headers=who, params={"name": "fleet-3"})).json()
    assert [vm["name"] for vm in named["data"]] == ["fleet-3"]
    gone = named["data"][0]["id"]
    assert (await client.delete(f"/vms/{gone}", headers=who)).json()["status"] == "terminated"
    assert (await client.get("/vms", headers=who)).json()["count"] == 4
    active = (await client.get("/vms", headers=who, params={"status": "active"})).json()
    assert active["count"] == 4
    ended = (await client.get("/vms", headers=who, params={"status": "terminated"})).json()
    assert [vm["id"] for vm in ended["data"]] == [gone]
    bad = await client.get("/vms", headers=who, params={"status": "sleeping"})
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("status: Input should be 'launching', 'active'")


async def test_patch_renames_and_replaces_ports_keeping_ssh(client: httpx.AsyncClient) -> None:
    who = wallet(new_wallet())
    vm_id = (await client.post("/deploy", headers=who, json={})).json()["deployment"]["vmId"]
    resp = await client.patch(
        f"/vms/{vm_id}",
        headers=who,
        json={"name": "renamed", "openPorts": [{"port": 8080}, {"port": 3000}]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "renamed"
    assert resp.json()["openPorts"] == [
        {"port": 22, "protocol": "tcp"},
        {"port": 3000, "protocol": "tcp"},
        {"port": 8080, "protocol": "tcp"},
    ]


async def test_allocate_reuses_an_idle_vm(client: httpx.AsyncClient, core: Coordinator) -> None:
    address = new_wallet()
    first = await client.post("/allocate", json={"minerAddress": address, "instanceName": "pool-a"})
    assert first.status_code == 201, first.text
    assert first.json()["reused"] is False
    vm_id = first.json()["vmId"]
    await wait_active(client, vm_id, wallet(address))

    again = await client.post(
        "/allocate", json={"walletAddress": address, "instanceName": "pool-b"}
    )
    assert again.status_code == 200
    assert (again.json()["vmId"], again.json()["reused"]) == (vm_id, True)
    assert again.json()["vm"]["name"] == "pool-b"

    # once a miner occupies it, allocate rents another one
    await client.post(f"/vms/{vm_id}/miner", headers=wallet(address), json={})
    busy = await client.post("/allocate", json={"walletAddress": address})
    assert busy.status_code == 201
    assert busy.json()["vmId"] != vm_id
    await core.jobs.drain()


async def test_configurations_and_estimate(client: httpx.AsyncClient) -> None:
    configs = (await client.get("/configurations")).json()
    assert configs["count"] == len(configs["data"]) >= 2
    prices = [Decimal(c["pricePerEpochUsd"]) for c in configs["data"]]
    assert prices == sorted(prices)
    pick = configs["data"][1]
    resp = await client.post(
        "/estimate",
        json={"constraints": {"basicConfiguration": pick["slug"]}, "instances": 3},
    )
    assert resp.status_code == 200, resp.text
    estimate = resp.json()
    price = Decimal(pick["pricePerEpochUsd"])
    assert estimate["configuration"] == pick["slug"]
    assert Decimal(estimate["pricePerEpoch"]) == price
    assert Decimal(estimate["totalPricePerEpoch"]) == price * 3
    assert Decimal(estimate["depositAmountUsdc"]) == price * 3 * estimate["depositEpochs"]
    over = await client.post(
        "/estimate",
        json={
            "constraints": {"basicConfiguration": pick["slug"], "maxTotalPricePerEpochUsd": "0.001"}
        },
    )
    assert over.status_code == 422
    assert over.json()["error"].startswith("No suitable offer found")


async def test_deploy_with_guide_constraints_and_ports(client: httpx.AsyncClient) -> None:
    configs = (await client.get("/configurations")).json()["data"]
    pick = configs[0]
    cap = str(Decimal(pick["pricePerEpochUsd"]) + 1)
    resp = await client.post(
        "/deploy",
        json={
            "walletAddress": new_wallet(),
            "constraints": {"basicConfiguration": pick["slug"], "maxTotalPricePerEpochUsd": cap},
            "vmConfiguration": {
                "name": "high-performance-llm",
                "openPorts": [
                    {"port": 22, "protocol": "tcp"},
                    {"port": 3000, "protocol": "tcp"},
                    {"port": 8080, "protocol": "tcp"},
                ],
            },
        },
    )
    assert resp.status_code == 201, resp.text
    vm = resp.json()["vms"][0]
    assert (vm["name"], vm["configuration"]) == ("high-performance-llm", pick["slug"])
    assert vm["pricePerEpochUsd"] == pick["pricePerEpochUsd"]
    assert [p["port"] for p in vm["openPorts"]] == [22, 3000, 8080]
