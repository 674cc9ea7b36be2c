"""Routing under load and failure: preference, exploration, capacity, failover, cooldown."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from .chat_miner import serve_chat_miner
from .conftest import add_miner, client_for, gateway_of, gateway_settings, running


async def test_routing_prefers_the_faster_miner_but_explores(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, exploration=0.2)) as app,
        client_for(app) as client,
        serve_chat_miner("fast", delay_s=0.001) as fast,
        serve_chat_miner("slow", delay_s=0.05) as slow,
    ):
        await add_miner(app, fast.endpoint)
        await add_miner(app, slow.endpoint)
        for n in range(100):
            resp = await client.post("/api/chat", json={"prompt": f"q{n}"})
            assert resp.status_code == 200, resp.text
    assert fast.answered + slow.answered == 100
    assert fast.answered > 3 * slow.answered  # the better miner gets most of the traffic
    assert slow.answered >= 1  # and the other one still some (exploration)


async def test_a_miners_declared_max_concurrency_is_respected(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("narrow", delay_s=0.1, max_concurrency=2) as miner:
        miner_id = await add_miner(app, miner.endpoint)
        assert gateway_of(app).status()[miner_id]["max_concurrency"] == 2
        replies = await asyncio.gather(
            *(client.post("/api/chat", json={"prompt": f"p{n}"}) for n in range(8))
        )
    assert [r.status_code for r in replies] == [200] * 8  # queued at the gateway, not refused
    assert miner.max_inflight == 2
    assert miner.answered == 8


async def test_failover_on_miner_errors(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with (
        serve_chat_miner("broken", fail_status=500) as broken,
        serve_chat_miner("good") as good,
    ):
        await add_miner(app, broken.endpoint)
        good_id = await add_miner(app, good.endpoint)
        replies = [await client.post("/api/chat", json={"prompt": f"p{n}"}) for n in range(20)]
    assert [r.status_code for r in replies] == [200] * 20
    assert {r.json()["miner_id"] for r in replies} == {good_id}
    assert broken.requests >= 1  # it was tried, and the request went on elsewhere
    assert good.answered == 20


async def test_failover_on_timeout(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, attempt_timeout_s=0.3)) as app,
        client_for(app) as client,
        serve_chat_miner("stuck", delay_s=30) as stuck,
        serve_chat_miner("good") as good,
    ):
        await add_miner(app, stuck.endpoint)
        good_id = await add_miner(app, good.endpoint)
        replies = [await client.post("/api/chat", json={"prompt": f"p{n}"}) for n in range(6)]
        for _ in range(100):  # the abandoned requests' connections close
            if stuck.disconnects == stuck.requests:
                break
            await asyncio.sleep(0.02)
        assert stuck.disconnects == stuck.requests >= 1
    assert {r.json()["miner_id"] for r in replies} == {good_id}


async def test_every_miner_failing_is_a_clear_502(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with (
        serve_chat_miner("a", fail_status=500) as a,
        serve_chat_miner("b", fail_status=503, fail_body={"error": "queue full"}) as b,
    ):
        await add_miner(app, a.endpoint)
        await add_miner(app, b.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "x"})
    assert resp.status_code == 502
    message = resp.json()["error"]
    assert message.startswith("no miner could answer (2 tried); last: HTTP 50"), message
    assert a.requests == b.requests == 1


class FakeClock:
    """The gateway's monotonic clock, moved by the test (cooldowns without sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_clock(app: FastAPI) -> FakeClock:
    clock = FakeClock()
    gateway = gateway_of(app)
    gateway.clock = gateway.pool.clock = clock
    return clock


async def test_a_failing_miner_cools_down_and_is_probed_back_in(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    gateway, clock = gateway_of(app), fake_clock(app)
    # "ok" answers a little slower than "flaky" fails, so the router prefers flaky and its
    # three failures come at once (not only from the 5% exploration: that was flaky)
    async with (
        serve_chat_miner("flaky", fail_status=500) as flaky,
        serve_chat_miner("ok", delay_s=0.005) as ok,
    ):
        flaky_id = await add_miner(app, flaky.endpoint)
        await add_miner(app, ok.endpoint)
        for n in range(60):
            assert (await client.post("/api/chat", json={"prompt": f"{n}"})).status_code == 200
            if gateway.status()[flaky_id]["breaker"] == "open":
                break
        assert gateway.status()[flaky_id]["breaker"] == "open"
        assert flaky.requests == 3  # breaker_failures consecutive failures
        for n in range(10):  # while it cools down it gets nothing
            assert (await client.post("/api/chat", json={"prompt": f"c{n}"})).status_code == 200
        assert flaky.requests == 3

        flaky.fail_status = None  # it recovers, and its cooldown (0.3 s) is over
        clock.now += 0.31
        resp = await client.post("/api/chat", json={"prompt": "probe"})
        assert resp.status_code == 200
        assert resp.json()["miner_id"] == flaky_id  # the one trial request (half-open)
        assert gateway.status()[flaky_id]["breaker"] == "closed"
        assert ok.answered >= 10


async def test_a_failed_trial_doubles_the_cooldown(app: FastAPI, client: httpx.AsyncClient) -> None:
    gateway, clock = gateway_of(app), fake_clock(app)
    async with serve_chat_miner("dead", fail_status=500) as dead, serve_chat_miner("ok") as ok:
        dead_id = await add_miner(app, dead.endpoint)
        await add_miner(app, ok.endpoint)
        breaker = gateway.pool.candidates[dead_id].breaker
        while breaker.openings == 0:
            assert (await client.post("/api/chat", json={"prompt": "x"})).status_code == 200
        assert breaker.open_until == clock.now + 0.3
        clock.now += 0.31
        assert (await client.post("/api/chat", json={"prompt": "trial"})).status_code == 200
        assert dead.requests == 4  # three failures, then one failed trial, retried on "ok"
        assert breaker.state.value == "open"
        assert breaker.open_until == clock.now + 0.6  # the second cooldown is twice the first
        clock.now += 0.31
        for n in range(5):
            assert (await client.post("/api/chat", json={"prompt": f"{n}"})).status_code == 200
        assert dead.requests == 4
        assert ok.answered >= 8


async def test_a_failing_miners_words_never_reach_the_user(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    secret = {"error": "db at 10.0.0.7:5432 refused user admin"}
    async with serve_chat_miner("leaky", fail_status=500, fail_body=secret) as miner:
        await add_miner(app, miner.endpoint)
        plain = await client.post("/api/chat", json={"prompt": "hi"})
        streamed = await client.post("/api/chat", json={"prompt": "hi", "stream": True})
    for resp in (plain, streamed):
        assert resp.status_code == 502, resp.text
        assert "10.0.0.7" not in resp.text and "HTTP 500" in resp.json()["error"]
