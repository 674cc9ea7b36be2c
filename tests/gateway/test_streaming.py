"""Streamed answers through the gateway: the head sent once a miner's answer has begun,
events relayed as they come, failover until the answer's first byte, a user who leaves
closes the miner's connection, usage recorded at the end."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi import FastAPI

from loopback import serving_in_loop

from .chat_miner import ChatMiner, serve_chat_miner
from .conftest import add_miner, gateway_of


async def _until_the_miner_stops(miner: ChatMiner) -> None:
    """Wait (up to 4 s) for the miner to see the user leave and stop its stream."""
    for _ in range(200):
        if miner.stream_closed_early:
            return
        await asyncio.sleep(0.02)


def _events(text: str) -> list[str]:
    return [e.removeprefix("data: ") for e in text.split("\n\n") if e]


async def test_api_chat_stream_relays_the_miners_events_with_its_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("alpha") as miner:
        miner_id = await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "one two three", "stream": True})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["X-TensorNode-Miner-Id"] == miner_id
    events = _events(resp.text)
    assert events[-1] == "[DONE]"
    pieces = [json.loads(e) for e in events[:-1]]
    assert "".join(p["response"] for p in pieces) == "alpha: one two three"
    assert len(pieces) == 5 and pieces[-1]["done"] is True
    assert pieces[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


async def test_a_miner_that_does_not_stream_is_sent_as_one_piece(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("guide", streams=False) as miner:
        await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "hi there", "stream": True})
        body = {"model": "llm", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        completion = await client.post("/v1/chat/completions", json=body)
    pieces = [json.loads(e) for e in _events(resp.text)[:-1]]
    assert [p["response"] for p in pieces] == ["guide: hi there", ""]
    assert pieces[-1]["done"] is True and pieces[-1]["model"] == "guide"
    chunks = [json.loads(e) for e in _events(completion.text)[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "guide: hi"


@pytest.mark.parametrize(
    "failing",
    [{"fail_status": 500}, {"break_after": 0}],
    ids=["an-error-status", "a-head-and-then-nothing"],
)
async def test_stream_fails_over_until_the_first_byte(
    app: FastAPI, client: httpx.AsyncClient, failing: dict[str, int]
) -> None:
    async with (
        serve_chat_miner("broken", **failing) as broken,
        serve_chat_miner("good") as good,
    ):
        broken_id = await add_miner(app, broken.endpoint)
        good_id = await add_miner(app, good.endpoint)
        replies = [
            await client.post("/api/chat", json={"prompt": f"p{n}", "stream": True})
            for n in range(4)
        ]
    assert broken.requests >= 1
    for n, reply in enumerate(replies):
        events = _events(reply.text)
        assert reply.status_code == 200 and events[-1] == "[DONE]"
        assert "".join(json.loads(e)["response"] for e in events[:-1]) == f"good: p{n}"
    if "fail_status" in failing:  # refused before its head: the head names who answered
        assert {r.headers["X-TensorNode-Miner-Id"] for r in replies} == {good_id}
    gateway = gateway_of(app)
    assert gateway.metrics.series(broken_id).error >= 1
    assert all(c.inflight == 0 for c in gateway.pool.candidates.values())


async def test_when_every_miner_dies_after_its_head_the_stream_ends_with_an_error(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("mute", break_after=0) as mute:
        await add_miner(app, mute.endpoint)
        chat = await client.post("/api/chat", json={"prompt": "hello", "stream": True})
        body = {"model": "llm", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        completion = await client.post("/v1/chat/completions", json=body)
    assert chat.status_code == completion.status_code == 200
    assert json.loads(_events(chat.text)[-1])["error"].startswith("no miner could answer")
    error = json.loads(_events(completion.text)[-1])["error"]
    assert error["message"].startswith("no miner could answer") and error["type"] == "api_error"
    assert "mute" not in chat.text + completion.text  # the miner's words never reach the user
    assert all(c.inflight == 0 for c in gateway_of(app).pool.candidates.values())


async def test_the_head_goes_out_while_the_miner_makes_its_first_token(app: FastAPI) -> None:
    async with (
        serve_chat_miner("slow", word_delay_s=0.3) as miner,
        serving_in_loop(app) as url,
    ):
        await add_miner(app, miner.endpoint)
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            http.stream("POST", "/api/chat", json={"prompt": "a b", "stream": True}) as resp,
        ):
            words_at_head = miner.streamed_words
            text = "".join([line async for line in resp.aiter_lines()])
    assert resp.status_code == 200 and words_at_head == 0
    assert "slow:" in text and text.endswith("data: [DONE]")


async def test_a_user_who_leaves_before_the_first_token_frees_the_miner(app: FastAPI) -> None:
    async with (
        serve_chat_miner("slow", word_delay_s=0.5) as miner,
        serving_in_loop(app) as url,
    ):
        miner_id = await add_miner(app, miner.endpoint)
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            http.stream("POST", "/api/chat", json={"prompt": "a b", "stream": True}) as resp,
        ):
            assert resp.status_code == 200  # the head is out; the user leaves now
        await _until_the_miner_stops(miner)
        assert miner.stream_closed_early == 1 and miner.streamed_words == 0
        gateway = gateway_of(app)
        assert all(c.inflight == 0 for c in gateway.pool.candidates.values())
        assert gateway.metrics.series(miner_id).error == 0  # leaving is not the miner's fault


async def test_a_stream_that_breaks_off_ends_with_an_error_event(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("flaky", break_after=2) as miner:
        await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "a b c d e", "stream": True})
    events = _events(resp.text)
    assert resp.status_code == 200
    assert "".join(json.loads(e).get("response", "") for e in events[:-1]) == "flaky: a"
    assert json.loads(events[-1])["error"].startswith("the miner's answer broke off")


async def test_chunks_arrive_as_generated_and_a_user_who_leaves_stops_the_miner(
    app: FastAPI,
) -> None:
    async with (
        serve_chat_miner("slow", word_delay_s=0.2) as miner,
        serving_in_loop(app) as url,
    ):
        await add_miner(app, miner.endpoint)
        prompt = " ".join(f"w{i}" for i in range(30))
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as http,
            http.stream("POST", "/api/chat", json={"prompt": prompt, "stream": True}) as resp,
        ):
            assert resp.status_code == 200
            lines = resp.aiter_lines()
            first = await anext(lines)
            generated_by_then = miner.streamed_words
            assert json.loads(first.removeprefix("data: ")) == {"response": "slow:"}
        # the first word was relayed while the miner was still generating the rest
        assert generated_by_then < 31
        await _until_the_miner_stops(miner)
        assert miner.stream_closed_early == 1
        assert miner.streamed_words < 10
        gateway = gateway_of(app)
        assert all(c.inflight == 0 for c in gateway.pool.candidates.values())


async def test_usage_of_a_stream_is_recorded_when_it_ends(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("alpha") as miner:
        miner_id = await add_miner(app, miner.endpoint)
        await client.post("/api/chat", json={"prompt": "one two", "stream": True})
    series = gateway_of(app).metrics.series(miner_id)
    assert series.ok == 1
    assert (series.prompt_tokens, series.completion_tokens) == (2, 3)


async def test_sampled_streams_are_kept_for_traffic_grading_with_their_whole_text(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    from tensornode.scoring.traffic import TrafficSampler

    sampler = gateway_of(app).sampler = TrafficSampler(1.0)
    async with serve_chat_miner("alpha") as miner:
        miner_id = await add_miner(app, miner.endpoint)
        chat = await client.post("/api/chat", json={"prompt": "one two three", "stream": True})
        body = {"model": "llm", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        completion = await client.post("/v1/chat/completions", json=body)
    assert chat.status_code == completion.status_code == 200
    samples = sampler.take(10)
    assert [(s.miner_id, s.answer) for s in samples] == [
        (miner_id, "alpha: one two three"),
        (miner_id, "alpha: hi"),
    ]
    assert all("stream" not in s.body for s in samples)  # re-asked as plain requests
    assert samples[0].prompt == "one two three"


async def test_unsampled_streams_are_not_kept(app: FastAPI, client: httpx.AsyncClient) -> None:
    from tensornode.scoring.traffic import TrafficSampler

    sampler = gateway_of(app).sampler = TrafficSampler(0.0)
    async with serve_chat_miner("alpha") as miner:
        await add_miner(app, miner.endpoint)
        resp = await client.post("/api/chat", json={"prompt": "one two", "stream": True})
    assert resp.status_code == 200 and len(sampler) == 0
