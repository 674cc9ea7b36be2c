"""The miner API over ASGI: shapes, every bad input, failures, loading, queue, cache."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tensornode import __version__
from tensornode.errors import ConfigurationError
from tensornode.miner.app import request_verifier
from tensornode.miner.backends.echo import EchoBackend
from tensornode.miner.backends.tiny import TinyBackend
from tensornode.miner.service import format_uptime
from tensornode.net.signing import HEADER, RequestSigner

from .conftest import ScriptedBackend, asgi_miner, make_settings

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
async def scripted(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ScriptedBackend]]:
    backend = ScriptedBackend(context_length=64)
    settings = make_settings(tmp_path, max_tokens=64, max_body_bytes=1024)
    async with asgi_miner(settings, {"llm": backend}) as (client, _):
        yield client, backend


async def test_chat_answers_in_the_guide_shape(
    scripted: tuple[httpx.AsyncClient, ScriptedBackend],
) -> None:
    client, _ = scripted
    r = await client.post("/api/chat", json={"prompt": "two words", "shiny_new_field": [1]})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"response", "model", "timestamp", "processing_time", "usage"}
    assert body["response"] == "answer to two words"
    assert body["model"] == "scripted"
    assert TIMESTAMP.match(body["timestamp"])
    assert isinstance(body["processing_time"], float)
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


BAD_BODIES: list[tuple[Any, int, str]] = [
    (b'{"prompt": "unfinished', 400, "malformed JSON body"),
    (b"\xff\xfe not utf-8", 400, "malformed JSON body"),
    (b"", 400, "malformed JSON body"),
    (b"[1, 2]", 422, "request body must be a JSON object"),
    ({}, 422, "prompt: Field required"),
    ({"prompt": ""}, 422, "prompt: prompt must not be empty"),
    ({"prompt": "  \n "}, 422, "prompt: prompt must not be empty"),
    ({"prompt": 42}, 422, "prompt: Input should be a valid string"),
    ({"prompt": ["a"]}, 422, "prompt: Input should be a valid string"),
    (
        {"prompt": "hi", "max_tokens": 0},
        422,
        "max_tokens: Input should be greater than or equal to 1",
    ),
    ({"prompt": "hi", "max_tokens": 65}, 422, "max_tokens must be at most 64"),
    (
        {"prompt": "hi", "max_tokens": "many"},
        422,
        "max_tokens: Input should be a valid integer, unable to parse string as an integer",
    ),
    (
        {"prompt": "hi", "temperature": -0.1},
        422,
        "temperature: Input should be greater than or equal to 0",
    ),
    (
        {"prompt": "hi", "temperature": 2.01},
        422,
        "temperature: Input should be less than or equal to 2",
    ),
    ({"prompt": "hi", "stop": [1]}, 422, "stop.0: Input should be a valid string"),
    ({"prompt": "w " * 64}, 422, "prompt is 64 tokens; the model's context is 64 tokens"),
    ({"prompt": "x" * 2000}, 413, "request body is larger than 1024 bytes"),
]


@pytest.mark.parametrize(("body", "status", "error"), BAD_BODIES)
async def test_bad_input_gets_one_line_json_error(
    scripted: tuple[httpx.AsyncClient, ScriptedBackend], body: Any, status: int, error: str
) -> None:
    client, backend = scripted
    if isinstance(body, bytes):
        r = await client.post("/api/chat", content=body)
    else:
        r = await client.post("/api/chat", json=body)
    assert (r.status_code, r.json()) == (status, {"error": error})
    assert r.headers["content-type"] == "application/json"
    assert backend.batches == []


async def test_chunked_body_over_the_limit_is_413(
    scripted: tuple[httpx.AsyncClient, ScriptedBackend],
) -> None:
    client, _ = scripted

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"prompt": "'
        for _ in range(10):
            yield b"y" * 200
        yield b'"}'

    r = await client.post("/api/chat", content=chunks())
    assert "content-length" not in r.request.headers
    assert (r.status_code, r.json()) == (413, {"error": "request body is larger than 1024 bytes"})


async def test_unknown_routes_and_methods_are_json(
    scripted: tuple[httpx.AsyncClient, ScriptedBackend],
) -> None:
    client, _ = scripted
    r = await client.get("/nowhere")
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
    r = await client.get("/api/chat")
    assert (r.status_code, r.json()) == (405, {"error": "Method Not Allowed"})


async def test_backend_failure_is_500_and_the_server_keeps_serving(
    scripted: tuple[httpx.AsyncClient, ScriptedBackend],
) -> None:
    client, _ = scripted
    r = await client.post("/api/chat", json={"prompt": "boom"})
    assert r.status_code == 500
    assert r.json() == {
        "error": "generation failed: RuntimeError: CUDA error: device-side assert triggered"
    }
    r = await client.post("/api/chat", json={"prompt": "still there?"})
    assert (r.status_code, r.json()["response"]) == (200, "answer to still there?")
    assert (await client.get("/health")).status_code == 200


async def test_full_queue_is_503_with_retry_after(tmp_path: Path) -> None:
    backend = ScriptedBackend()
    backend.generate_gate.clear()
    settings = make_settings(tmp_path, max_queue=1, batching=False)
    async with asgi_miner(settings, {"llm": backend}) as (client, service):
        running = asyncio.create_task(client.post("/api/chat", json={"prompt": "a"}))
        await asyncio.to_thread(backend.entered.wait, 10)
        waiting = asyncio.create_task(client.post("/api/chat", json={"prompt": "b"}))
        while service.queue_depth < 2:
            await asyncio.sleep(0.01)
        r = await client.post("/api/chat", json={"prompt": "c"})
        assert (r.status_code, r.json()) == (
            503,
            {"error": "the queue is full (1 requests waiting)"},
        )
        assert r.headers["retry-after"] == "1"
        assert (await client.get("/health")).json()["queue_depth"] == 2
        backend.generate_gate.set()
        assert [x.status_code for x in await asyncio.gather(running, waiting)] == [200, 200]


async def test_health_is_503_while_loading_then_healthy(tmp_path: Path) -> None:
    backend = ScriptedBackend(block_load=True)
    async with asgi_miner(make_settings(tmp_path), {"llm": backend}, wait=False) as (
        client,
        service,
    ):
        for path, method in (("/health", "GET"), ("/info", "GET"), ("/api/chat", "POST")):
            r = await client.request(method, path, json={"prompt": "hi"})
            assert (r.status_code, r.json()) == (503, {"error": "model is loading"}), path
            assert r.headers["retry-after"] == "5"
        backend.load_gate.set()
        await service.wait_loaded()
        r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "healthy"
    assert body["model_loaded"] is True
    assert re.match(r"^\d+h \d+m \d+s$", body["uptime"])
    assert body["uptime_seconds"] >= 0
    assert body["queue_depth"] == 0
    assert body["version"] == __version__
    assert backend.closed


class _BrokenLoad(ScriptedBackend):
    def load(self) -> None:
        raise OSError("weights file is truncated")


async def test_a_model_that_fails_to_load_makes_health_503(tmp_path: Path) -> None:
    async with asgi_miner(make_settings(tmp_path), {"llm": _BrokenLoad()}) as (client, _):
        r = await client.get("/health")
        assert (r.status_code, r.json()) == (
            503,
            {"error": "model llm failed to load: weights file is truncated"},
        )
        r = await client.post("/api/chat", json={"prompt": "hi"})
        assert r.status_code == 503


def test_uptime_format_is_the_guides() -> None:
    assert format_uptime(2 * 3600 + 15 * 60 + 30.9) == "2h 15m 30s"
    assert format_uptime(0) == "0h 0m 0s"
    assert format_uptime(50 * 3600) == "50h 0m 0s"


async def test_several_models_route_by_type_and_unknown_type_is_404(tmp_path: Path) -> None:
    backends = {"llm": ScriptedBackend(), "code": EchoBackend("echo-coder")}
    async with asgi_miner(make_settings(tmp_path), backends) as (client, _):
        r = await client.post("/api/chat/code", json={"prompt": "print hello world"})
        assert (r.json()["response"], r.json()["model"]) == ("print hello world", "echo-coder")
        r = await client.post("/api/chat/llm", json={"prompt": "hi"})
        assert r.json()["response"] == "answer to hi"
        r = await client.post("/api/chat", json={"prompt": "hi"})
        assert r.json()["model"] == "scripted"
        r = await client.post("/api/chat/vision", content=b"not even json")
        assert (r.status_code, r.json()) == (404, {"error": "Model not available"})
        info = (await client.get("/info")).json()
        assert (info["model_type"], info["models"]) == ("llm", ["llm", "code"])
        info = (await client.get("/info/code")).json()
        assert (info["model_name"], info["model_type"]) == ("echo-coder", "code")
        r = await client.get("/info/vision")
        assert (r.status_code, r.json()) == (404, {"error": "Model not available"})


@pytest.fixture
async def tiny_client(
    tiny_data_dir: Path,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = make_settings(tiny_data_dir, max_tokens=64)
    async with asgi_miner(settings, {"llm": TinyBackend(tiny_data_dir)}) as pair:
        yield pair


async def test_tiny_info_and_prompt_longer_than_context(
    tiny_client: tuple[httpx.AsyncClient, Any],
) -> None:
    client, _ = tiny_client
    info = (await client.get("/info")).json()
    assert info["model_name"] == "tiny-v2"
    assert info["max_context_length"] == 512
    assert info["capabilities"] == ["text-generation", "qa"]
    assert info["device"] == "cpu"
    assert info["max_concurrency"] == 16
    r = await client.post("/api/chat", json={"prompt": "word " * 600})
    assert r.status_code == 422
    assert re.fullmatch(
        r"prompt is \d+ tokens; the model's context is 512 tokens", r.json()["error"]
    )


async def test_deterministic_requests_hit_the_cache(
    tiny_client: tuple[httpx.AsyncClient, Any],
) -> None:
    client, service = tiny_client
    for body in ({"prompt": "Hello", "temperature": 0}, {"prompt": "Hello", "seed": 9}):
        first = (await client.post("/api/chat", json=body)).json()
        hits = service.cache.hits
        second = (await client.post("/api/chat", json=body)).json()
        assert second["response"] == first["response"]
        assert second["usage"] == first["usage"]
        assert service.cache.hits == hits + 1
    before = len(service.cache)
    await client.post("/api/chat", json={"prompt": "Hello", "temperature": 0.9})
    assert len(service.cache) == before  # sampling without a seed is never cached


async def test_seed_decides_the_answer_without_cache(tiny_data_dir: Path) -> None:
    settings = make_settings(tiny_data_dir, cache=False)
    async with asgi_miner(settings, {"llm": TinyBackend(tiny_data_dir)}) as (client, service):
        assert service.cache is None

        async def ask(seed: int) -> str:
            body = {"prompt": "Once upon a time", "seed": seed, "max_tokens": 16}
            text: str = (await client.post("/api/chat", json=body)).json()["response"]
            return text

        assert await ask(1) == await ask(1)
        assert await ask(1) != await ask(2)


async def test_concurrent_requests_are_batched_and_match_unbatched(tiny_data_dir: Path) -> None:
    bodies = [
        {"prompt": f"Question {i}: what is {i} plus {i}?", "seed": i, "max_tokens": 12 + i}
        for i in range(8)
    ] + [{"prompt": "Greedy one", "temperature": 0, "max_tokens": 9, "stop": ["zzz"]}]

    async def answers(**miner: Any) -> tuple[list[str], int]:
        settings = make_settings(tiny_data_dir, cache=False, **miner)
        async with asgi_miner(settings, {"llm": TinyBackend(tiny_data_dir)}) as (client, svc):
            replies = await asyncio.gather(*(client.post("/api/chat", json=b) for b in bodies))
            batcher = svc.slots["llm"].batcher
            assert batcher is not None
            return [r.json()["response"] for r in replies], batcher.batches

    batched, batches = await answers(batching=True)
    alone, runs = await answers(batching=False)
    assert batched == alone
    assert runs == len(bodies)
    assert batches < len(bodies)
    assert len(set(batched)) == len(bodies)  # each request got its own answer


async def test_with_the_coordinator_key_only_requests_signed_for_this_miner_are_answered(
    tmp_path: Path,
) -> None:
    signer = RequestSigner.generate()
    url = "http://miner.test:3000"
    settings = make_settings(tmp_path, coordinator_key=signer.public_key, public_url=url)
    body = b'{"prompt":"two words"}'
    async with asgi_miner(settings, {"llm": ScriptedBackend()}) as (client, _):
        unsigned = await client.post("/api/chat", content=body)
        relayed = await client.post(
            "/api/chat", content=body, headers={HEADER: signer.header("http://other:3000", body)}
        )
        signed = await client.post(
            "/api/chat/llm", content=body, headers={HEADER: signer.header(url, body)}
        )
        health = await client.get("/health")
    assert unsigned.status_code == 401
    assert unsigned.json()["error"].startswith("missing X-TensorNode-Signature")
    assert relayed.status_code == 401 and "not for this miner" in relayed.json()["error"]
    assert signed.status_code == 200 and signed.json()["response"] == "answer to two words"
    assert health.status_code == 200  # health and info stay open
    with pytest.raises(ConfigurationError, match="set both"):
        request_verifier(make_settings(tmp_path, public_url=url))
