"""The miner's streamed answers over a real server: /api/chat with stream, the
OpenAI-compatible /v1/chat/completions, and a client who leaves stopping generation."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI

from loopback import serving_in_loop
from tensornode.miner.app import build_miner_app
from tensornode.miner.backends.base import GenerationRequest, GenerationResult, TextSink
from tensornode.miner.backends.echo import EchoBackend
from tensornode.miner.service import MinerService

from .conftest import make_settings


class WatchedEcho(EchoBackend):
    """The echo backend, a word every ``word_delay_s``, keeping its results."""

    def __init__(self, word_delay_s: float) -> None:
        super().__init__("echo", word_delay_s=word_delay_s)
        self.results: list[GenerationResult] = []

    def generate_batch(
        self, requests: Sequence[GenerationRequest], sink: TextSink | None = None
    ) -> list[GenerationResult]:
        results = super().generate_batch(requests, sink)
        self.results += results
        return results


@pytest.fixture
async def miner(tmp_path: Path) -> AsyncIterator[tuple[str, WatchedEcho]]:
    backend = WatchedEcho(word_delay_s=0.02)
    settings = make_settings(tmp_path, cache=False)
    service = MinerService(settings, {"llm": backend})
    app = build_miner_app(settings, service)
    async with app.router.lifespan_context(app), serving_in_loop(app) as url:
        await service.wait_loaded()
        yield url, backend


def _events(text: str) -> list[str]:
    return [e.removeprefix("data: ") for e in text.split("\n\n") if e]


async def test_api_chat_streams_events_then_done(miner: tuple[str, WatchedEcho]) -> None:
    url, _ = miner
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/api/chat", json={"prompt": "one two three", "stream": True})
        plain = await http.post("/api/chat", json={"prompt": "one two three"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = _events(resp.text)
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e) for e in events[:-1]]
    assert [p["response"] for p in pieces] == ["one", " two", " three", ""]
    done = pieces[-1]
    assert done["done"] is True and done["model"] == "echo" and done["finish_reason"] == "stop"
    assert done["usage"] == {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}
    assert plain.json()["response"] == "one two three"  # a plain request is unchanged


async def test_a_stream_request_is_refused_as_json_before_it_starts(
    miner: tuple[str, WatchedEcho],
) -> None:
    url, _ = miner
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/api/chat", json={"prompt": " ", "stream": True})
        unknown = await http.post("/api/chat/nope", json={"prompt": "x", "stream": True})
    assert (resp.status_code, resp.json()) == (422, {"error": "prompt: prompt must not be empty"})
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Model not available"})


async def test_a_client_who_leaves_stops_the_generation(miner: tuple[str, WatchedEcho]) -> None:
    url, backend = miner
    prompt = " ".join(f"w{i}" for i in range(200))
    async with httpx.AsyncClient(base_url=url) as http:
        body = {"prompt": prompt, "stream": True, "max_tokens": 200}
        async with http.stream("POST", "/api/chat", json=body) as resp:
            lines = resp.aiter_lines()
            assert json.loads((await anext(lines)).removeprefix("data: ")) == {"response": "w0"}
    for _ in range(250):
        if backend.results:
            break
        await asyncio.sleep(0.02)
    (result,) = backend.results
    assert result.finish_reason == "cancelled"


async def test_openai_clients_call_the_miner_directly(miner: tuple[str, WatchedEcho]) -> None:
    url, _ = miner
    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0)
    async with client:
        models = await client.models.list()
        assert [m.id for m in models.data] == ["llm"]
        messages = [{"role": "user", "content": "alpha beta gamma"}]
        completion = await client.chat.completions.create(model="llm", messages=messages)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == "alpha beta gamma"
        assert completion.usage is not None and completion.usage.completion_tokens == 3
        stream = await client.chat.completions.create(
            model="echo",  # the model's name works too
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    contents = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert contents == ["alpha", " beta", " gamma"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 6
