"""Outside dev mode every call that names an owner needs an API key; URLs must be public."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from factories import make_settings, new_wallet
from tensornode.coordinator.accounts import create_api_key, hash_key
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import ApiKey

from .conftest import client_for, running_app, wait_active


@pytest.fixture
async def prod_app(tmp_path: Path, db_url: str) -> AsyncIterator[FastAPI]:
    async with running_app(make_settings(tmp_path / "prod", db_url, dev_mode=False)) as app:
        yield app


async def _key(app: FastAPI, account: str) -> str:
    core: Coordinator = app.state.coordinator
    async with core.db.session() as session:
        return await create_api_key(session, account)


async def test_no_credential_or_bad_key_is_401(prod_app: FastAPI) -> None:
    async with client_for(prod_app) as client:
        bare = await client.post("/deploy", json={"walletAddress": new_wallet()})
        assert (bare.status_code, bare.json()) == (
            401,
            {"error": "authentication required: send Authorization: Bearer <api key>"},
        )
        bad = await client.get("/vms", headers={"Authorization": "Bearer tn_not-a-key"})
        assert (bad.status_code, bad.json()) == (401, {"error": "invalid API key"})
        basic = await client.get("/vms", headers={"Authorization": "Basic abc"})
        assert (basic.status_code, basic.json()) == (
            401,
            {"error": "Authorization must be 'Bearer <api key>'"},
        )
        vm_route = await client.get("/vms/0123456789abcdef")
        assert (vm_route.status_code, vm_route.json()) == (
            401,
            {"error": "authentication required: send Authorization: Bearer <api key>"},
        )
        # public network data needs no credential
        assert (await client.get("/miners")).status_code == 200
        assert (await client.get("/configurations")).status_code == 200


async def test_api_key_identifies_the_caller(prod_app: FastAPI) -> None:
    account = new_wallet()
    key = await _key(prod_app, account)
    core: Coordinator = prod_app.state.coordinator
    async with core.db.session() as session:
        stored = (await session.scalars(select(ApiKey))).all()
    assert [row.key_hash for row in stored] == [hash_key(key)]  # never the key itself
    auth = {"Authorization": f"Bearer {key}"}
    async with client_for(prod_app) as client:
        resp = await client.post("/deploy", headers=auth, json={"walletAddress": "0.0.1"})
        assert resp.status_code == 201
        vm = resp.json()["vms"][0]
        assert vm["owner"] == account  # the key decides, not the body
        await wait_active(client, vm["id"], auth)
        private = await client.post(
            f"/vms/{vm['id']}/docker/url",
            headers=auth,
            json={"dockerfile_url": "http://127.0.0.1:8080/Dockerfile"},
        )
        loopback = "127.0.0.1 resolves to 127.0.0.1 is a loopback address"
        assert (private.status_code, private.json()) == (
            400,
            {"error": f"dockerfile_url refused: {loopback}"},
        )
        lan = await client.post("/miners", headers=auth, json={"endpoint": "http://10.1.2.3:3000"})
        assert lan.status_code == 400
        assert lan.json()["error"] == (
            "endpoint refused: 10.1.2.3 resolves to 10.1.2.3 is a private address"
        )
        deps = await client.get(f"/vms/{vm['id']}/deployments", headers=auth)
        assert deps.json()["count"] == 0


def test_apikey_cli_prints_a_working_key(tmp_path: Path, db_url: str) -> None:
    from typer.testing import CliRunner

    from tensornode.cli.main import app

    env = {"TENSORNODE_DATA_DIR": str(tmp_path / "cli"), "TENSORNODE_DATABASE_URL": db_url}
    result = CliRunner().invoke(app, ["coordinator", "apikey", "create", "0.0.4242"], env=env)
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("tn_") and len(key) > 40
    bad = CliRunner().invoke(app, ["coordinator", "apikey", "create", "alice"], env=env)
    assert bad.exit_code == 1
