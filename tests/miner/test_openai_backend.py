"""The openai backends against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tensornode.miner.backends import BackendContext, build_backend, parse_model_spec

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
