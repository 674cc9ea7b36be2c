"""``POST /miners`` resolves an endpoint's name once and registers the checked address:
nothing connects by the name again (DNS rebinding), and a failed check never echoes what
the endpoint answered."""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from factories import free_port, new_wallet, wallet
from loopback import serving_in_thread
from tensornode.net.safe_fetch import IPAddress

from .conftest import client_for

MINERS = Path(__file__).resolve().parents[1] / "miners"
SECRET = "internal-only: db password hunter2"


@pytest.fixture
async def stdlib_miner() -> AsyncIterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(MINERS / "stdlib_miner.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                try:
                    if (await http.get(f"http://127.0.0.1:{port}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


class RebindingDNS:
    """Answers loopback once (the check), then an internal address (the rebind)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        first = len(self.asked) == 1
        return [ipaddress.ip_address("127.0.0.1" if first else "10.20.30.40")]


async def test_a_named_endpoint_is_registered_under_its_checked_address(
    app: FastAPI, stdlib_miner: int
) -> None:
    dns = RebindingDNS()
    app.state.coordinator.miners.resolver = dns
    owner = wallet(new_wallet())
    async with client_for(app) as client:
        named = f"http://miner.rebind.test:{stdlib_miner}"
        resp = await client.post("/miners", headers=owner, json={"endpoint": named})
        assert resp.status_code == 201, resp.text
        miner = resp.json()
        assert miner["endpoint"] == f"http://127.0.0.1:{stdlib_miner}"
        assert miner["name"] == named
        assert dns.asked == ["miner.rebind.test"]  # the check itself went to the address
        # everything that talks to the miner later reads the pinned endpoint
        probes = await app.state.coordinator.miners.active_miners()
        assert [m.endpoint for m in probes if m.miner_id == miner["id"]] == [miner["endpoint"]]
        assert dns.asked == ["miner.rebind.test"]


@pytest.fixture
def leaky_endpoint() -> Iterator[str]:
    async def answer(_: object) -> PlainTextResponse:
        return PlainTextResponse(SECRET, status_code=500)

    app = Starlette(
        routes=[
            Route(p, answer, methods=["GET", "POST"]) for p in ("/health", "/info", "/api/chat")
        ]
    )
    with serving_in_thread(app) as url:
        yield url


async def test_a_failed_check_does_not_echo_the_endpoints_answer(
    app: FastAPI, leaky_endpoint: str
) -> None:
    async with client_for(app) as client:
        resp = await client.post(
            "/miners", headers=wallet(new_wallet()), json={"endpoint": leaky_endpoint}
        )
    assert resp.status_code == 422
    assert "HTTP 500" in resp.text
    assert "hunter2" not in resp.text and "internal-only" not in resp.text
