"""A small OpenAI-compatible server (the part vLLM, Ollama and llama.cpp share).

``/v1/models``, ``/v1/completions`` and ``/v1/chat/completions``. The answer is
``upstream heard: <prompt>``, cut to ``max_tokens`` words; prompt ``fail`` answers 500,
``reject`` answers 400 with OpenAI's error body, ``busy`` answers 429. Every request
body is recorded in ``state.bodies``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODEL = "fake-llama-3"


def build_fake_openai() -> FastAPI:
    app = FastAPI()
    app.state.bodies = []

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
        choice = {"index": 0, "text": text, "finish_reason": "length"}
        return {
            "id": "t1",
            "object": "text_completion",
            "model": MODEL,
            "choices": [choice],
            "usage": usage,
        }

    return app
