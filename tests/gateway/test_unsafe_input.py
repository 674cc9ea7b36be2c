"""Input no miner can handle is refused at the gateway (400) and never reaches a miner,
so a user cannot trip a healthy miner's circuit breaker with it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from .chat_miner import serve_chat_miner
from .conftest import add_miner, gateway_of

LONE = b'{"prompt": "hi \\ud800 there"}'
LONE_V1 = b'{"model": "llm", "messages": [{"role": "user", "content": "\\udfff"}]}'


@pytest.mark.parametrize(("path", "body"), [("/api/chat", LONE), ("/v1/chat/completions", LONE_V1)])
async def test_a_lone_surrogate_is_refused_before_any_miner(
    app: FastAPI, client: httpx.AsyncClient, path: str, body: bytes
) -> None:
    async with serve_chat_miner("alpha") as miner:
        await add_miner(app, miner.endpoint)
        for _ in range(5):  # more than breaker_failures
            resp = await client.post(
                path, content=body, headers={"content-type": "application/json"}
            )
            assert resp.status_code == 400
            error = resp.json()["error"]
            message = error["message"] if isinstance(error, dict) else error
            assert message == "a string holds a lone surrogate (\\ud800-\\udfff): not Unicode"
        ok = await client.post("/api/chat", json={"prompt": "a pair \U0001f600 is fine"})
        assert ok.status_code == 200, ok.text
        breakers = [c.breaker.state.value for c in gateway_of(app).pool.candidates.values()]
        assert breakers == ["closed"]
    assert miner.requests == 1
