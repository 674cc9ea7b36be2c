"""``POST /api/chat`` through the gateway: answers, routing, capacity, errors."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from tensornode.gateway.schemas import GatewayChatResponse

from .chat_miner import serve_chat_miner
from .conftest import add_miner, client_for, gateway_of, gateway_settings, running


async def test_answer_has_the_miner_contract_shape_and_the_miner_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("alpha") as miner:
        miner_id = await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "hello there", "max_tokens": 5})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["miner_id"] == miner_id
    assert body["response"] == "alpha: hello there"
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    GatewayChatResponse.model_validate(body)
    assert resp.headers["X-TensorNode-Miner-Id"] == miner_id
    assert float(resp.headers["X-TensorNode-Overhead-Ms"]) >= 0.0
    assert miner.prompts == ["hello there"]


async def test_model_type_route_reaches_miners_serving_that_type(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with (
        serve_chat_miner("chat", models=["llm"]) as llm,
        serve_chat_miner("multi", models=["llm", "code"]) as multi,
    ):
        await add_miner(app, llm.endpoint)
        multi_id = await add_miner(app, multi.endpoint)
        for _ in range(3):
            resp = await client.post("/api/chat/code", json={"prompt": "def f"})
            assert resp.status_code == 200, resp.text
            assert resp.json()["miner_id"] == multi_id
        unknown = await client.post("/api/chat/nonsense", json={"prompt": "x"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Model not available"})
    assert llm.requests == 0
    assert multi.paths == ["/api/chat/code"] * 3


async def test_no_healthy_miner_is_503_at_once(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/chat", json={"prompt": "anyone?"})
    assert resp.status_code == 503
    assert resp.json() == {"error": "no healthy miner serves 'llm' right now"}
    assert "Retry-After" in resp.headers
    vision = await client.post("/api/chat/vision", json={"prompt": "anyone?"})
    assert vision.status_code == 503


async def test_unhealthy_miners_get_no_traffic(app: FastAPI, client: httpx.AsyncClient) -> None:
    async with serve_chat_miner("sick") as sick, serve_chat_miner("well") as well:
        sick_id = await add_miner(app, sick.endpoint)
        await add_miner(app, well.endpoint)
        await app.state.coordinator.miners.set_status(sick_id, "unhealthy")
        await gateway_of(app).pool.refresh()
        for _ in range(10):
            assert (await client.post("/api/chat", json={"prompt": "hi"})).status_code == 200
    assert (sick.requests, well.requests) == (0, 10)


async def test_bad_input_gets_the_miner_apis_errors(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("alpha") as miner:
        await add_miner(app, miner.endpoint)
        cases = [
            (b"{not json", 400, "malformed JSON body"),
            (b"[1, 2]", 422, "request body must be a JSON object"),
            (b'{"prompt": "  "}', 422, "prompt: prompt must not be empty"),
            (b'{"prompt": 3}', 422, "prompt: Input should be a valid string"),
            (b'{"prompt": "x", "max_tokens": 0}', 422, None),
            (b'{"prompt": "x", "temperature": 9}', 422, None),
            (b'{"prompt": "x", "max_tokens": 999999}', 422, "max_tokens must be at most 2048"),
        ]
        for raw, status, message in cases:
            resp = await client.post(
                "/api/chat", content=raw, headers={"content-type": "application/json"}
            )
            assert resp.status_code == status, (raw, resp.text)
            if message is not None:
                assert resp.json() == {"error": message}, raw
            else:
                assert resp.json()["error"].split(":")[0] in ("max_tokens", "temperature")
        big = await client.post("/api/chat", json={"prompt": "x" * 300_000})
        assert big.status_code == 413
    assert miner.requests == 0


async def test_a_miners_input_error_is_passed_back_not_retried(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    too_long = {"error": "prompt is 5000 tokens; the model's context is 1024 tokens"}
    async with (
        serve_chat_miner("a", fail_status=422, fail_body=too_long) as a,
        serve_chat_miner("b", fail_status=422, fail_body=too_long) as b,
    ):
        await add_miner(app, a.endpoint)
        await add_miner(app, b.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "long"})
    assert (resp.status_code, resp.json()) == (422, too_long)
    assert a.requests + b.requests == 1


async def test_the_chat_routes_answer_with_their_shapes_and_errors(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path)) as app,
        client_for(app) as client,
        serve_chat_miner("alpha") as miner,
    ):
        miner_id = await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "hello there"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["miner_id"] == miner_id
        assert "X-TensorNode-Overhead-Ms" in resp.headers
        bad = await client.post("/api/chat", json={"prompt": ""})
        assert (bad.status_code, bad.json()) == (422, {"error": "prompt: prompt must not be empty"})
        unknown = await client.post("/api/chat/nonsense", json={"prompt": "x"})
        assert (unknown.status_code, unknown.json()) == (404, {"error": "Model not available"})
        body = {"model": "llm", "messages": [{"role": "user", "content": "hi"}]}
        completion = await client.post("/v1/chat/completions", json=body)
        assert completion.json()["choices"][0]["message"]["content"] == "alpha: hi"
        stream = await client.post("/v1/chat/completions", json={**body, "stream": True})
        assert stream.text.endswith("data: [DONE]\n\n")
        missing = await client.post("/v1/chat/completions", json={**body, "model": "gpt-x"})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


async def test_chat_routes_are_plain_routes_served_first_and_documented(app: FastAPI) -> None:
    from starlette.routing import Route

    from tensornode.gateway.routes import CHAT_ROUTES

    first = app.router.routes[: len(CHAT_ROUTES)]
    assert [(type(r), r.path) for r in first] == [(Route, path) for path, _ in CHAT_ROUTES]
    documented = app.openapi()["paths"]
    assert all("post" in documented[path] for path, _ in CHAT_ROUTES)


async def test_a_model_type_longer_than_allowed_is_refused(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/chat/" + "x" * 41, json={"prompt": "hi"})
    assert resp.status_code == 422
    assert resp.json() == {"error": "model_type: at most 40 characters"}
