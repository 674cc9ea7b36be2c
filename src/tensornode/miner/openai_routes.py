"""The miner's OpenAI-compatible API: ``POST /v1/chat/completions`` (streamed or not) and
``GET /v1/models``, so OpenAI-, vLLM- or Ollama-style clients can call a miner directly.

``model`` names a model type the miner serves (``llm``, ``tensornode/llm``) or its
model's name (``tiny-v2``); messages become one prompt as at the gateway
(:mod:`tensornode.openai_compat`). Errors take OpenAI's shape.
"""

from __future__ import annotations

import json
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tensornode.errors import NotFound, TensorNodeError
from tensornode.miner.bodies import read_body
from tensornode.miner.service import MinerService
from tensornode.miner.streaming import completion_events
from tensornode.net.signing import HEADER, RequestVerifier
from tensornode.openai_compat import (
    ChatCompletionRequest,
    completion_body,
    model_type_of,
    openai_error_body,
    parse_completion_request,
    to_chat_request,
)
from tensornode.sse import EVENT_STREAM

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _openai_error(exc: TensorNodeError) -> JSONResponse:
    headers = None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        headers = {"Retry-After": str(max(1, round(retry_after)))}
    return JSONResponse(openai_error_body(exc.status, exc.message), exc.status, headers)


def served_type(service: MinerService, model: str) -> str:
    """The model type a request's ``model`` names: a served type or its model's name."""
    wanted = model_type_of(model)
    if wanted in service.slots:
        return wanted
    for model_type, slot in service.slots.items():
        if slot.info is not None and slot.info.model_name == model:
            return model_type
    raise NotFound(f"model {model!r} not found: GET /v1/models lists them")


async def _complete(service: MinerService, body: ChatCompletionRequest) -> Response:
    model_type = served_type(service, body.model)
    request = to_chat_request(body)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        stream, _ = service.open_stream(request, model_type)
        events = completion_events(
            stream, body.model, include_usage=include_usage, max_tokens=request.max_tokens
        )
        return StreamingResponse(events, media_type=EVENT_STREAM, headers=STREAM_HEADERS)
    answer = await service.chat(request, model_type)
    completion = completion_body(answer, request, model=body.model, miner_id=None)
    return Response(json.dumps(completion), media_type="application/json")


def install_openai_routes(
    app: FastAPI, service: MinerService, limit: int, verifier: RequestVerifier | None = None
) -> None:
    """Add the ``/v1`` routes to the miner's app (bodies up to ``limit`` bytes; with a
    ``verifier``, only requests the coordinator signed for this miner, as ``/api/chat``)."""

    @app.post("/v1/chat/completions", tags=["openai"])
    async def chat_completions(request: Request) -> Response:
        """OpenAI's chat completion; ``stream: true`` sends chunks as they are generated."""
        try:
            raw = await read_body(request, limit)
            if verifier is not None:
                verifier.check(request.headers.get(HEADER), raw)
            body = parse_completion_request(raw)
            return await _complete(service, body)
        except TensorNodeError as exc:
            return _openai_error(exc)

    @app.get("/v1/models", tags=["openai"])
    async def list_models() -> dict[str, object]:
        """The model types this miner serves."""
        created = int(time.time())
        data = [
            {"id": t, "object": "model", "created": created, "owned_by": "tensornode-miner"}
            for t in service.slots
        ]
        return {"object": "list", "data": data}
