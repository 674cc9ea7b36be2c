"""Bring your own miner: ``POST /miners`` registers a real miner after ``miner check``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from factories import free_port, new_wallet, wallet


@pytest.fixture
async def own_miner(tmp_path: Path) -> AsyncIterator[str]:
    """``tensornode miner serve`` on loopback, as an operator would run it."""
    port = free_port()
    log = (tmp_path / "miner.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tensornode.cli.main", "miner", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                assert proc.poll() is None, (tmp_path / "miner.log").read_text()
                try:
                    status = (await http.get(f"{url}/health", timeout=2)).status_code
                except httpx.TransportError:
                    status = None  # not listening yet
                if status == 200:
                    break
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


async def test_register_list_and_deregister_own_miner(
    client: httpx.AsyncClient, own_miner: str
) -> None:
    owner, other = wallet(new_wallet()), wallet(new_wallet())
    resp = await client.post(
        "/miners", headers=owner, json={"endpoint": own_miner + "/", "name": "home-gpu"}
    )
    assert resp.status_code == 201, resp.text
    miner = resp.json()
    assert (miner["kind"], miner["status"], miner["subnet"]) == ("external", "active", "llm")
    assert miner["endpoint"] == own_miner  # trailing slash dropped
    assert miner["owner"] == owner["X-Wallet-Address"]
    assert miner["vmId"] is None

    twice = await client.post("/miners", headers=owner, json={"endpoint": own_miner})
    assert (twice.status_code, twice.json()) == (
        409,
        {"error": f"{own_miner} is already registered as miner {miner['id']}"},
    )
    public = (await client.get("/miners", params={"subnet": "llm"})).json()  # no credential
    assert [m["id"] for m in public["data"]] == [miner["id"]]
    assert (await client.get("/miners", params={"subnet": "vision"})).json()["count"] == 0

    stranger = await client.delete(f"/miners/{miner['id']}", headers=other)
    assert (stranger.status_code, stranger.json()) == (
        404,
        {"error": f"miner {miner['id']} not found"},
    )
    gone = await client.delete(f"/miners/{miner['id']}", headers=owner)
    assert gone.json()["status"] == "stopped"
    assert (await client.get(f"/miners/{miner['id']}")).json()["status"] == "stopped"
