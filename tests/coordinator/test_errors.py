"""Each bad input gets a clear JSON error with the right status, and leaves nothing behind."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from factories import new_wallet, wallet
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import VM, Deployment, Miner

from .conftest import wait_active


async def _count(core: Coordinator, model: type) -> int:
    async with core.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _active_vm(client: httpx.AsyncClient, who: dict[str, str]) -> str:
    vm_id = str((await client.post("/deploy", headers=who, json={})).json()["deployment"]["vmId"])
    await wait_active(client, vm_id, who)
    return vm_id


async def test_price_cap_exceeded_creates_nothing(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    configs = (await client.get("/configurations")).json()["data"]
    priciest = configs[-1]
    resp = await client.post(
        "/deploy",
        headers=wallet(new_wallet()),
        json={
            "constraints": {
                "basicConfiguration": priciest["slug"],
                "maxTotalPricePerEpochUsd": "0.01",
            }
        },
    )
    assert resp.status_code == 422
    assert resp.json() == {
        "error": f"No suitable offer found: {priciest['slug']} costs "
        f"{priciest['pricePerEpochUsd']} USD per epoch, above maxTotalPricePerEpochUsd 0.01: "
        "raise the cap or pick a cheaper basicConfiguration"
    }
    assert await _count(core, VM) == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (
            {"constraints": {"basicConfiguration": "cpu-999-ram-1tb"}},
            400,
            "unknown configuration 'cpu-999-ram-1tb' (available: ",
        ),
        ({"walletAddress": "abc"}, 400, "invalid walletAddress 'abc': expected a Hedera"),
        ({"instances": 0}, 422, "instances: Input should be greater than or equal to 1"),
        ({"instances": 11}, 400, "instances must be at most 10"),
        (
            {"vmConfiguration": {"openPorts": [{"port": 70000}]}},
            422,
            "vmConfiguration.openPorts.0.port: Input should be less than or equal to 65535",
        ),
        (
            {"vmConfiguration": {"openPorts": [{"port": 10250}]}},
            400,
            "port 10250 is reserved by the provider",
        ),
        (
            {"miner": {"models": ["llm=tiny"], "port": 8080}},
            400,
            "miner port 8080 is not in vmConfiguration.openPorts",
        ),
        (
            {"miner": {"runtime": "docker"}},
            400,
            "miner.dockerfile_url is required for the docker runtime",
        ),
    ],
)
async def test_bad_deploy_is_refused_and_creates_nothing(
    client: httpx.AsyncClient, core: Coordinator, body: dict, status: int, error: str
) -> None:
    headers = {} if "walletAddress" in body else wallet(new_wallet())
    resp = await client.post("/deploy", headers=headers, json=body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"].startswith(error)
    assert await _count(core, VM) == 0


async def test_request_shape_errors_are_json(client: httpx.AsyncClient) -> None:
    who = wallet(new_wallet())
    malformed = await client.post(
        "/deploy", headers={**who, "Content-Type": "application/json"}, content=b'{"instances": '
    )
    assert (malformed.status_code, malformed.json()) == (400, {"error": "malformed JSON body"})
    missing = await client.post("/deploy", json={})
    assert missing.status_code == 401
    assert missing.json() == {
        "error": "walletAddress required: send it in the body, the query or the "
        "X-Wallet-Address header"
    }
    nowhere = await client.get("/no/such/route")
    assert (nowhere.status_code, nowhere.json()) == (
        404,
        {"error": "not found: GET /no/such/route"},
    )
    wrong = await client.put("/deploy", json={})
    assert (wrong.status_code, wrong.json()) == (
        405,
        {"error": "method PUT not allowed on /deploy"},
    )
    absent = await client.get("/vms/0123456789abcdef", headers=who)
    assert (absent.status_code, absent.json()) == (
        404,
        {"error": "VM 0123456789abcdef not found"},
    )
    limit = await client.get("/vms", headers=who, params={"limit": 0})
    assert limit.status_code == 422
    assert limit.json() == {"error": "limit: Input should be greater than or equal to 1"}


async def test_bad_miner_requests_leave_no_deployment(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    who = wallet(new_wallet())
    vm_id = await _active_vm(client, who)
    not_docker = await client.post(
        f"/vms/{vm_id}/docker/upload",
        headers=who,
        files={"file": ("Dockerfile", b"RUN echo hi\nFROM python:3.11\n")},
    )
    assert not_docker.status_code == 400
    assert not_docker.json() == {
        "error": "not a Dockerfile: its first instruction must be FROM, but line 1 is RUN"
    }
    empty = await client.post(
        f"/vms/{vm_id}/docker/local", headers=who, files={"file": ("Dockerfile", b"")}
    )
    assert (empty.status_code, empty.json()) == (
        400,
        {"error": "the uploaded Dockerfile is empty"},
    )
    closed_port = await client.post(f"/vms/{vm_id}/miner", headers=who, json={"port": 8080})
    assert closed_port.status_code == 400
    assert closed_port.json() == {
        "error": f"port 8080 is not open on VM {vm_id} (open: 22, 3000); "
        f"add it with PATCH /vms/{vm_id}"
    }
    bad_url = await client.post(
        f"/vms/{vm_id}/docker/url", headers=who, json={"dockerfile_url": "ftp://x/Dockerfile"}
    )
    assert bad_url.status_code == 400
    assert bad_url.json() == {"error": "dockerfile_url must be http or https, not 'ftp'"}
    assert await _count(core, Deployment) == 0

    deleted = await client.delete(f"/vms/{vm_id}", headers=who)
    assert deleted.json()["status"] == "terminated"
    on_terminated = await client.post(f"/vms/{vm_id}/miner", headers=who, json={})
    assert (on_terminated.status_code, on_terminated.json()) == (
        409,
        {"error": f"VM {vm_id} is terminated: cannot deploy a miner on it"},
    )
    assert await _count(core, Deployment) == 0


async def test_patch_refuses_reserved_port(client: httpx.AsyncClient) -> None:
    who = wallet(new_wallet())
    vm_id = await _active_vm(client, who)
    resp = await client.patch(
        f"/vms/{vm_id}", headers=who, json={"openPorts": [{"port": 10250, "protocol": "tcp"}]}
    )
    assert (resp.status_code, resp.json()) == (
        400,
        {"error": "port 10250 is reserved by the provider"},
    )
    vm = (await client.get(f"/vms/{vm_id}", headers=who)).json()
    assert [p["port"] for p in vm["openPorts"]] == [22, 3000]


async def test_register_miner_that_fails_check_is_422_with_checks(
    client: httpx.AsyncClient, core: Coordinator
) -> None:
    from factories import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    resp = await client.post(
        "/miners", headers=wallet(new_wallet()), json={"endpoint": endpoint, "name": "mine"}
    )
    assert resp.status_code == 422
    body = resp.json()
    assert body["error"].startswith("miner check failed: ")
    assert body["checks"] and all({"name", "reason"} == set(c) for c in body["checks"])
    assert await _count(core, Miner) == 0


async def test_openapi_docs_list_the_guide_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/deploy", "/vms/{vm_id}", "/vms/{vm_id}/docker/url", "/miners", "/estimate"):
        assert path in spec["paths"], path
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
