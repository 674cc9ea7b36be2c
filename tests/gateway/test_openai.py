"""The official ``openai`` client against a real coordinator on loopback, unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import openai
import pytest
from fastapi import FastAPI

from loopback import ThreadedServer
from tensornode.config import Settings
from tensornode.coordinator.app import build_app

from .chat_miner import ChatMiner, serve_chat_miner
from .conftest import gateway_settings, seed_miners

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is two plus two?"},
]
RENDERED = "System: Be brief.\n\nUser: What is two plus two?\n\nAssistant:"


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[str, ChatMiner, str]]:
    """A coordinator on loopback routing to one scripted miner: (url, miner, miner id)."""
    settings: Settings = gateway_settings(tmp_path)
    async with serve_chat_miner("oracle", models=["llm", "code"]) as miner:
        (miner_id,) = await seed_miners(settings, [miner.endpoint])
        app: FastAPI = build_app(settings)
        async with ThreadedServer(app) as server:
            yield server.url, miner, miner_id


def _client(url: str, api_key: str = "dev-mode-ignores-this") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0)


async def test_chat_completion(setup: tuple[str, ChatMiner, str]) -> None:
    url, miner, miner_id = setup
    async with _client(url) as client:
        completion = await client.chat.completions.create(
            model="tensornode/llm", messages=MESSAGES, max_tokens=20, temperature=0, seed=7
        )
    assert completion.object == "chat.completion"
    assert completion.model == "tensornode/llm"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == f"oracle: {' '.join(RENDERED.split())}"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    words = len(RENDERED.split())
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        words,
        words + 1,
    )
    assert (completion.model_extra or {})["miner_id"] == miner_id
    assert miner.prompts == [RENDERED]


async def test_streaming_chat_completion_with_usage(setup: tuple[str, ChatMiner, str]) -> None:
    url, miner, _ = setup
    async with _client(url) as client:
        stream = await client.chat.completions.create(
            model="llm",
            messages=[{"role": "user", "content": "stream me three words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "oracle: stream me three words"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert miner.prompts == ["stream me three words"]  # a lone user message as it is


async def test_sse_wire_format_ends_with_done(setup: tuple[str, ChatMiner, str]) -> None:
    url, _, _ = setup
    body = {"model": "llm", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{url}/v1/chat/completions", json=body)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line for line in resp.text.split("\n\n") if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert "X-TensorNode-Overhead-Ms" in resp.headers


async def test_models_and_errors_in_openais_shape(setup: tuple[str, ChatMiner, str]) -> None:
    url, _, _ = setup
    async with _client(url) as client:
        models = await client.models.list()
        assert sorted(m.id for m in models.data) == ["code", "llm"]
        assert (await client.models.retrieve("llm")).id == "llm"
        with pytest.raises(openai.NotFoundError) as missing:
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert missing.value.status_code == 404
        assert missing.value.code == "model_not_found"
        assert "gpt-4o" in missing.value.message
        with pytest.raises(openai.BadRequestError) as bad:
            await client.chat.completions.create(model="llm", messages=[])
        assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="llm", messages=MESSAGES, n=2)
        with pytest.raises(openai.InternalServerError) as none:
            await client.chat.completions.create(model="vision", messages=MESSAGES)
        assert none.value.status_code == 503


async def test_a_real_gateway_key_works_with_the_client(
    setup: tuple[str, ChatMiner, str],
) -> None:
    url, _, _ = setup
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            f"{url}/gateway/keys", headers={"X-Wallet-Address": "0.0.4242"}, json={}
        )
    key = resp.json()["key"]
    async with _client(url, key) as client:
        completion = await client.chat.completions.create(model="llm", messages=MESSAGES)
        assert completion.choices[0].message.content
    async with _client(url, "tng_revoked-or-unknown") as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(model="llm", messages=MESSAGES)
