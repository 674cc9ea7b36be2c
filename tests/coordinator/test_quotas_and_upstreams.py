"""Outside dev mode: a builtin miner's upstream URL passes the SSRF rules, and one account
holds a bounded number of VMs and ports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from factories import make_settings, new_wallet
from tensornode.coordinator.accounts import create_api_key

from .conftest import client_for, running_app


@pytest.fixture
async def production(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'q.db'}", dev_mode=False)
    settings.coordinator.max_vms_per_account = 2
    async with running_app(settings) as app:
        yield app


async def _bearer(app: FastAPI) -> dict[str, str]:
    async with app.state.coordinator.db.session() as session:
        key = await create_api_key(session, new_wallet())
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("llm=openai:http://127.0.0.1:5432/v1#m", "127.0.0.1 is a loopback address"),
        ("llm=openai-completions:http://169.254.169.254/v1", "169.254.169.254 is a link-local"),
        ("code=openai:http://[::ffff:10.0.0.1]:80/v1", "embeds 10.0.0.1 is a private address"),
    ],
)
async def test_an_openai_upstream_url_obeys_the_ssrf_rules(
    production: FastAPI, model: str, reason: str
) -> None:
    async with client_for(production) as client:
        me = await _bearer(production)
        refused = await client.post("/deploy", headers=me, json={"miner": {"models": [model]}})
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"].startswith(f"the {model.split('=')[1].split(':')[0]}")
        assert reason in refused.json()["error"]
        assert (await client.get("/vms", headers=me)).json()["count"] == 0  # nothing rented
        vm = (await client.post("/deploy", headers=me, json={})).json()["deployment"]["vmId"]
        direct = await client.post(f"/vms/{vm}/miner", headers=me, json={"models": [model]})
        assert direct.status_code == 400 and reason in direct.json()["error"]


async def test_an_account_holds_a_bounded_number_of_vms(production: FastAPI) -> None:
    async with client_for(production) as client:
        me, other = await _bearer(production), await _bearer(production)
        assert (await client.post("/deploy", headers=me, json={"instances": 2})).status_code == 201
        third = await client.post("/deploy", headers=me, json={})
        assert (third.status_code, third.json()) == (
            409,
            {"error": "an account holds at most 2 VMs (2 now): terminate some first"},
        )
        assert (await client.post("/deploy", headers=other, json={})).status_code == 201
        vms = (await client.get("/vms", headers=me)).json()["data"]
        assert (await client.delete(f"/vms/{vms[0]['id']}", headers=me)).status_code == 200
        assert (await client.post("/deploy", headers=me, json={})).status_code == 201


async def test_a_vm_opens_a_bounded_number_of_ports(production: FastAPI) -> None:
    async with client_for(production) as client:
        ports = [{"port": 3000 + i, "protocol": "tcp"} for i in range(500)]
        resp = await client.post(
            "/deploy",
            headers=await _bearer(production),
            json={"vmConfiguration": {"name": "many", "openPorts": ports}},
        )
        assert (resp.status_code, resp.json()) == (
            422,
            {"error": "openPorts: a VM opens at most 8 ports (22 included)"},
        )
        assert isinstance(client, httpx.AsyncClient)


async def test_requests_that_arrive_together_cannot_pass_the_quota_together(
    production: FastAPI,
) -> None:
    async with client_for(production) as client:
        me = await _bearer(production)
        replies = await asyncio.gather(
            *(client.post("/deploy", headers=me, json={}) for _ in range(4))
        )
        assert sorted(r.status_code for r in replies) == [201, 201, 409, 409]
        assert (await client.get("/vms", headers=me)).json()["count"] == 2
