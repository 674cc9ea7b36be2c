"""The openai backends against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from loopback import serving_in_loop
from tensornode.miner.app import build_miner_app
from tensornode.miner.backends import BackendContext, build_backend, parse_model_spec
from tensornode.miner.service import MinerService

from .conftest import asgi_miner, make_settings, serve_in_thread
from .fake_openai import MODEL, build_fake_openai


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FastAPI]]:
    app = build_fake_openai()
    with serve_in_thread(app) as url:
        yield f"{url}/v1", app


@pytest.mark.parametrize("backend", ["openai", "openai-completions"])
async def test_miner_forwards_to_the_upstream(
    upstream: tuple[str, FastAPI], tmp_path: Path, backend: str
) -> None:
    url, fake = upstream
    spec = parse_model_spec(f"llm={backend}:{url}")
    miner = build_backend(spec, BackendContext(tmp_path))
    async with asgi_miner(make_settings(tmp_path), {"llm": miner}) as (client, _):
        info = (await client.get("/info")).json()
        assert (info["model_name"], info["max_context_length"]) == (MODEL, 2048)
        body = {"prompt": "hello there", "max_tokens": 3, "temperature": 0.2, "seed": 5}
        r = await client.post("/api/chat", json={**body, "stop": "\n", "ignore_eos": True})
        assert r.status_code == 200
        assert r.json()["response"] == "upstream heard: hello"
        assert r.json()["model"] == MODEL
        assert r.json()["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    sent = fake.state.bodies[-1]
    assert sent["model"] == MODEL
    assert (sent["max_tokens"], sent["temperature"], sent["seed"]) == (3, 0.2, 5)
    assert (sent["stop"], sent["ignore_eos"]) == (["\n"], True)
    if backend == "openai":
        assert sent["messages"] == [{"role": "user", "content": "hello there"}]
    else:
        assert sent["prompt"] == "hello there"


async def test_upstream_errors_become_miner_errors(
    upstream: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, _ = upstream
    miner = build_backend(parse_model_spec(f"llm=openai:{url}#{MODEL}"), BackendContext(tmp_path))
    async with asgi_miner(make_settings(tmp_path, cache=False), {"llm": miner}) as (client, _):
        r = await client.post("/api/chat", json={"prompt": "fail"})
        assert (r.status_code, r.json()) == (
            500,
            {"error": f"upstream {url} answered 500: engine crashed"},
        )
        r = await client.post("/api/chat", json={"prompt": "reject"})
        assert (r.status_code, r.json()) == (
            422,
            {
                "error": "upstream rejected the request: "
                "This model's maximum context length is 2048 tokens."
            },
        )
        r = await client.post("/api/chat", json={"prompt": "busy"})
        assert (r.status_code, r.json()) == (503, {"error": f"upstream {url} is busy: slow down"})
        assert r.headers["retry-after"] == "7"
        r = await client.post("/api/chat", json={"prompt": "fine"})
        assert (r.status_code, r.json()["response"]) == (200, "upstream heard: fine")


async def test_unreachable_upstream_fails_the_load(tmp_path: Path) -> None:
    with serve_in_thread(FastAPI()) as url:
        dead = url  # a port that answered once and is closed after this block
    miner = build_backend(parse_model_spec(f"llm=openai:{dead}/v1"), BackendContext(tmp_path))
    async with asgi_miner(make_settings(tmp_path), {"llm": miner}) as (client, _):
        r = await client.get("/health")
    assert r.status_code == 503
    assert r.json()["error"].startswith(
        f"model llm failed to load: upstream {dead}/v1 failed: ConnectError"
    )


def test_openai_spec_needs_a_url(tmp_path: Path) -> None:
    from tensornode.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="needs an http"):
        build_backend(parse_model_spec("llm=openai:localhost:8000"), BackendContext(tmp_path))


def test_no_model_listed_is_a_load_error(tmp_path: Path) -> None:
    from tensornode.errors import ConfigurationError
    from tensornode.miner.backends.openai_upstream import OpenAIUpstreamBackend

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"data": []}))
    backend = OpenAIUpstreamBackend("http://upstream/v1", transport=transport)
    with pytest.raises(ConfigurationError, match="lists no models"):
        backend.load()


async def test_a_streamed_answer_arrives_as_the_upstream_makes_it(
    upstream: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, fake = upstream
    miner = build_backend(parse_model_spec(f"llm=openai:{url}"), BackendContext(tmp_path))
    settings = make_settings(tmp_path, cache=False)
    async with asgi_miner(settings, {"llm": miner}) as (client, _):
        body = {"prompt": "one two three", "max_tokens": 8, "stream": True}
        resp = await client.post("/api/chat", json=body)
    events = [e.removeprefix("data: ") for e in resp.text.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e) for e in events[:-1]]
    texts = [p["response"] for p in pieces if p["response"]]
    assert len(texts) > 1 and "".join(texts) == "upstream heard: one two three"
    assert pieces[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    sent = fake.state.bodies[-1]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert fake.state.streams[-1] == "done"


async def test_a_client_who_leaves_stops_the_upstreams_generation(
    upstream: tuple[str, FastAPI], tmp_path: Path
) -> None:
    url, fake = upstream
    fake.state.word_delay_s = 0.05
    miner = build_backend(parse_model_spec(f"llm=openai:{url}"), BackendContext(tmp_path))
    settings = make_settings(tmp_path, cache=False)
    service = MinerService(settings, {"llm": miner})
    app = build_miner_app(settings, service)
    prompt = " ".join(f"w{i}" for i in range(100))
    try:
        async with app.router.lifespan_context(app), serving_in_loop(app) as miner_url:
            await service.wait_loaded()
            before = len(fake.state.streams)
            body = {"prompt": prompt, "stream": True, "max_tokens": 100}
            async with (
                httpx.AsyncClient(base_url=miner_url) as http,
                http.stream("POST", "/api/chat", json=body) as resp,
            ):
                first = json.loads((await anext(resp.aiter_lines())).removeprefix("data: "))
                assert first == {"response": "upstream"}
            for _ in range(200):
                if len(fake.state.streams) > before:
                    break
                await asyncio.sleep(0.02)
    finally:
        fake.state.word_delay_s = 0.0
    assert fake.state.streams[before:] == ["client left"]
