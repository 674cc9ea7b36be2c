"""A caller sees and changes only its own VMs: another wallet's VM is a 404 everywhere."""

from __future__ import annotations

import httpx
import pytest

from factories import new_wallet, wallet
from tensornode.coordinator.core import Coordinator

from .conftest import wait_active

OTHERS_REQUESTS = [
    ("GET", "", None),
    ("PATCH", "", {"name": "stolen"}),
    ("DELETE", "", None),
    ("POST", "/miner", {"models": ["llm=tiny"]}),
    ("POST", "/docker/url", {"dockerfile_url": "http://127.0.0.1:9/Dockerfile"}),
    ("POST", "/docker/stop", None),
    ("POST", "/restart", None),
    ("GET", "/logs", None),
    ("GET", "/deployments", None),
]


async def test_another_wallet_gets_404_and_changes_nothing(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    owner, intruder = wallet(new_wallet()), wallet(new_wallet())
    resp = await client.post("/deploy", headers=owner, json={"instanceName": "mine"})
    vm_id = resp.json()["deployment"]["vmId"]
    await wait_active(client, vm_id, owner)

    for method, path, body in OTHERS_REQUESTS:
        resp = await client.request(method, f"/vms/{vm_id}{path}", headers=intruder, json=body)
        assert (method, path, resp.status_code) == (method, path, 404)
        assert resp.json() == {"error": f"VM {vm_id} not found"}
    upload = await client.post(
        f"/vms/{vm_id}/docker/upload",
        headers=intruder,
        files={"file": ("Dockerfile", b"FROM scratch\n")},
    )
    assert upload.status_code == 404

    assert (await client.get("/vms", headers=intruder)).json() == {"data": [], "count": 0}
    vm = (await client.get(f"/vms/{vm_id}", headers=owner)).json()
    assert (vm["name"], vm["status"], vm["deploymentState"]) == ("mine", "active", None)
    assert (await client.get(f"/vms/{vm_id}/deployments", headers=owner)).json()["count"] == 0


@pytest.mark.parametrize("where", ["header", "query", "body"])
async def test_wallet_is_read_from_header_query_or_body(
    client: httpx.AsyncClient, where: str
) -> None:
    address = new_wallet()
    kwargs: dict = {"json": {}}
    if where == "header":
        kwargs["headers"] = wallet(address)
    elif where == "query":
        kwargs["params"] = {"walletAddress": address}
    else:
        kwargs["json"] = {"walletAddress": address}
    resp = await client.post("/deploy", **kwargs)
    assert resp.status_code == 201, resp.text
    assert resp.json()["vms"][0]["owner"] == address
