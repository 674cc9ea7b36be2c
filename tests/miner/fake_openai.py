"""A small OpenAI-compatible server (the part vLLM, Ollama and llama.cpp share).

``/v1/models``, ``/v1/completions`` and ``/v1/chat/completions``. The answer is
``upstream heard: <prompt>``, cut to ``max_tokens`` words; prompt ``fail`` answers 500,
``reject`` answers 400 with OpenAI's error body, ``busy`` answers 429. Every request
body is recorded in ``state.bodies``. With ``stream: true`` the answer comes as OpenAI's
server-sent chunks, one word each (``state.word_delay_s`` apart), usage in a last chunk
when ``stream_options.include_usage``; ``state.streams`` records how each stream ended
(``done`` or ``client left``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

MODEL = "fake-llama-3"


def build_fake_openai() -> FastAPI:
    app = FastAPI()
    app.state.bodies = []
    app.state.streams = []
    app.state.word_delay_s = 0.0

    def streamed(body: dict[str, Any], text: str, usage: dict[str, int], chat: bool) -> Any:
        async def chunks() -> AsyncIterator[bytes]:
            ended = "client left"
            try:
                for i, word in enumerate(text.split(" ")):
                    await asyncio.sleep(app.state.word_delay_s)
                    piece = word if i == 0 else " " + word
                    choice = {"index": 0, "finish_reason": None}
                    choice.update({"delta": {"content": piece}} if chat else {"text": piece})
                    yield b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"
                end = {"index": 0, "finish_reason": "stop"}
                end.update({"delta": {}} if chat else {"text": ""})
                yield b"data: " + json.dumps({"choices": [end]}).encode() + b"\n\n"
                if (body.get("stream_options") or {}).get("include_usage"):
                    yield b"data: " + json.dumps({"choices": [], "usage": usage}).encode() + b"\n\n"
                yield b"data: [DONE]\n\n"
                ended = "done"
            finally:
                app.state.streams.append(ended)

        return StreamingResponse(chunks(), media_type="text/event-stream")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "max_model_len": 2048}]}

    def answer(body: dict[str, Any], prompt: str) -> JSONResponse | tuple[str, dict[str, int]]:
        app.state.bodies.append(body)
        if prompt == "fail":
            return JSONResponse({"error": {"message": "engine crashed"}}, status_code=500)
        if prompt == "reject":
            message = "This model's maximum context length is 2048 tokens."
            return JSONResponse({"error": {"message": message}}, status_code=400)
        if prompt == "busy":
            return JSONResponse(
                {"error": {"message": "slow down"}}, status_code=429, headers={"Retry-After": "7"}
            )
        words = f"upstream heard: {prompt}".split()[: body.get("max_tokens", 16)]
        usage = {"prompt_tokens": len(prompt.split()), "completion_tokens": len(words)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return " ".join(words), usage

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        out = answer(body, body["messages"][-1]["content"])
        if isinstance(out, JSONResponse):
            return out
        text, usage = out
        if body.get("stream"):
            return streamed(body, text, usage, chat=True)
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {
            "id": "c1",
            "object": "chat.completion",
            "model": MODEL,
            "choices": [choice],
            "usage": usage,
        }

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        out = answer(body, body["prompt"])
        if isinstance(out, JSONResponse):
            return out
        text, usage = out
        if body.get("stream"):
            return streamed(body, text, usage, chat=False)
        choice = {"index": 0, "text": text, "finish_reason": "length"}
        return {
            "id": "t1",
            "object": "text_completion",
            "model": MODEL,
            "choices": [choice],
            "usage": usage,
        }

    return app
