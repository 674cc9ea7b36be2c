"""A scripted miner on loopback: a real HTTP server whose chat behaviour a test sets.

It answers ``/api/chat`` (and ``/api/chat/{type}`` for the types in ``models``) after
``delay_s``, or with ``fail_status``; counts requests, the most in flight at once, and
the requests whose connection closed before the answer (``disconnects``). Asked to
stream (``stream: true``) it sends its answer as the miner API's events, a word every
``word_delay_s``, unless ``streams`` is off (a guide miner: JSON); ``break_after``
words, it drops the connection mid-answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from loopback import serving_in_loop


@dataclass
class ChatMiner:
    """What the miner does (set by the test) and what it saw."""

    name: str
    endpoint: str = ""
    delay_s: float = 0.0
    fail_status: int | None = None
    fail_body: object = None
    max_concurrency: int | None = None
    models: list[str] = field(default_factory=lambda: ["llm"])
    requests: int = 0
    answered: int = 0
    inflight: int = 0
    max_inflight: int = 0
    disconnects: int = 0
    prompts: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    streams: bool = True
    word_delay_s: float = 0.0
    break_after: int | None = None
    streamed_words: int = 0
    stream_closed_early: int = 0


def _event(data: object) -> bytes:
    return b"data: " + json.dumps(data).encode() + b"\n\n"


async def _stream(miner: ChatMiner, text: str, usage: dict[str, int]) -> AsyncIterator[bytes]:
    words = text.split(" ")
    finished = False
    try:
        for i, word in enumerate(words):
            if miner.break_after is not None and i == miner.break_after:
                raise ConnectionError("scripted break")
            if miner.word_delay_s:
                await asyncio.sleep(miner.word_delay_s)
            miner.streamed_words += 1
            yield _event({"response": word if i == 0 else " " + word})
        done = {"response": "", "done": True, "model": miner.name, "usage": usage}
        yield _event({**done, "finish_reason": "stop"}) + b"data: [DONE]\n\n"
        finished = True
    finally:
        if not finished:
            miner.stream_closed_early += 1


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        continue


def _app(miner: ChatMiner) -> Starlette:
    async def chat(request: Request) -> Response:
        miner.requests += 1
        miner.paths.append(request.url.path)
        body = await request.json()
        miner.prompts.append(body.get("prompt", ""))
        miner.inflight += 1
        miner.max_inflight = max(miner.max_inflight, miner.inflight)
        try:
            if miner.delay_s:
                waiting = asyncio.ensure_future(asyncio.sleep(miner.delay_s))
                gone = asyncio.ensure_future(_disconnected(request))
                await asyncio.wait((waiting, gone), return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                gone.cancel()
                if gone.done() and not gone.cancelled():
                    miner.disconnects += 1
                    return Response(status_code=499)
            if miner.fail_status is not None:
                return JSONResponse(
                    miner.fail_body or {"error": "model crashed"}, status_code=miner.fail_status
                )
            words = str(body.get("prompt", "")).split()
            miner.answered += 1
            text = f"{miner.name}: {' '.join(words)}"
            usage = {
                "prompt_tokens": len(words),
                "completion_tokens": len(words) + 1,
                "total_tokens": 2 * len(words) + 1,
            }
            if body.get("stream") is True and miner.streams:
                return StreamingResponse(
                    _stream(miner, text, usage), media_type="text/event-stream"
                )
            return JSONResponse(
                {
                    "response": text,
                    "model": miner.name,
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "processing_time": miner.delay_s,
                    "usage": usage,
                }
            )
        finally:
            miner.inflight -= 1

    async def typed_chat(request: Request) -> Response:
        if request.path_params["model_type"] not in miner.models:
            return JSONResponse({"error": "Model not available"}, status_code=404)
        return await chat(request)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "healthy", "model_loaded": True, "uptime": "0h 0m 1s"})

    async def info(_: Request) -> Response:
        body: dict[str, object] = {
            "model_name": miner.name,
            "model_type": miner.models[0],
            "version": "1.0.0",
            "capabilities": ["text-generation"],
            "max_context_length": 1024,
            "models": miner.models,
        }
        if miner.max_concurrency is not None:
            body["max_concurrency"] = miner.max_concurrency
        return JSONResponse(body)

    return Starlette(
        routes=[
            Route("/api/chat", chat, methods=["POST"]),
            Route("/api/chat/{model_type}", typed_chat, methods=["POST"]),
            Route("/health", health),
            Route("/info", info),
        ]
    )


@asynccontextmanager
async def serve_chat_miner(name: str, **behaviour: object) -> AsyncIterator[ChatMiner]:
    """Serve a scripted miner on a free loopback port until the block ends."""
    miner = ChatMiner(name=name, **behaviour)  # type: ignore[arg-type]
    async with serving_in_loop(_app(miner)) as url:
        miner.endpoint = url
        yield miner
