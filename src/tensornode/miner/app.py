"""The miner's HTTP routes (contracts.md's miner API), thin over :class:`MinerService`.

Errors, all ``{"error": "one line"}``:

- 400 malformed JSON body
- 401 a chat request not signed by the coordinator for this miner, when
  ``miner.coordinator_key`` and ``miner.public_url`` are set (:mod:`tensornode.net.signing`)
- 413 body larger than ``settings.miner.max_body_bytes``
- 422 well-formed JSON that fails validation (not an object, missing/empty/non-string
  prompt, max_tokens < 1 or above the limit, temperature outside [0, 2], a prompt longer
  than the model's context)
- 404 ``Model not available`` for an unknown ``/api/chat/{model_type}``
- 503 model still loading or failed to load, or the queue is full (with ``Retry-After``)
- 500 the backend failed on this request; the server keeps serving

``stream: true`` answers as server-sent events (contracts/miner.py; miner/streaming.py)
once the request is accepted: every refusal above comes first, as JSON. The miner also
serves OpenAI's ``POST /v1/chat/completions`` (streamed or not) and ``GET /v1/models``,
so OpenAI, vLLM- or Ollama-style clients can call it directly; under ``/v1`` errors take
OpenAI's shape.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tensornode import __version__
from tensornode.config import Settings
from tensornode.contracts.miner import ChatRequest, ChatResponse, HealthResponse, InfoResponse
from tensornode.errors import ConfigurationError, InvalidInput, TensorNodeError
from tensornode.miner.bodies import read_body
from tensornode.miner.openai_routes import install_openai_routes
from tensornode.miner.service import MinerService
from tensornode.miner.streaming import chat_events
from tensornode.net.signing import HEADER, RequestVerifier
from tensornode.sse import EVENT_STREAM

log = logging.getLogger(__name__)


def get_service(request: Request) -> MinerService:
    """The app's :class:`MinerService`."""
    service: MinerService = request.app.state.service
    return service


ServiceDep = Annotated[MinerService, Depends(get_service)]


def _one_line(message: str) -> str:
    return " ".join(message.split())


def validation_message(exc: ValidationError) -> str:
    """The first validation error as ``field: reason``."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    reason = str(first["msg"]).removeprefix("Value error, ")
    return f"{field}: {reason}"


async def read_chat_request(
    request: Request, limit: int, verifier: RequestVerifier | None = None
) -> ChatRequest:
    """Read and validate a chat body, enforcing the size limit while reading and, with a
    ``verifier``, the coordinator's signature before parsing anything."""
    body = await read_body(request, limit)
    if verifier is not None:
        verifier.check(request.headers.get(HEADER), bytes(body))
    try:
        data = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInput("malformed JSON body") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object", status=422)
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), status=422) from None


def _error_response(status: int, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return JSONResponse({"error": _one_line(message)}, status_code=status, headers=headers)


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def answer_chat(
    service: MinerService, request: ChatRequest, model_type: str | None
) -> Response:
    """The JSON answer, or the event stream when the request asks for one."""
    if not request.stream:
        answer = await service.chat(request, model_type)
        return JSONResponse(answer.model_dump(mode="json"))
    started = time.perf_counter()
    stream, model = service.open_stream(request, model_type)
    return StreamingResponse(
        chat_events(stream, model, started), media_type=EVENT_STREAM, headers=STREAM_HEADERS
    )


def request_verifier(settings: Settings) -> RequestVerifier | None:
    """The signature check the settings ask for (both ``miner.coordinator_key`` and
    ``miner.public_url``), or None; one without the other is a configuration error."""
    key, url = settings.miner.coordinator_key, settings.miner.public_url
    if key is None and url is None:
        return None
    if key is None or url is None:
        raise ConfigurationError(
            "set both miner.coordinator_key and miner.public_url to require signed requests"
        )
    return RequestVerifier(key, url)


def build_miner_app(settings: Settings, service: MinerService) -> FastAPI:
    """The miner's FastAPI app; models start loading when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="TensorNode miner",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.settings = settings
    limit = settings.miner.max_body_bytes
    verifier = request_verifier(settings)

    @app.exception_handler(TensorNodeError)
    async def _tensornode_error(request: Request, exc: TensorNodeError) -> JSONResponse:
        return _error_response(exc.status, exc.message, getattr(exc, "retry_after", None))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return _error_response(500, "internal error")

    @app.post("/api/chat", response_model=ChatResponse)
    async def chat(request: Request, service: ServiceDep) -> Response:
        """Answer a prompt with the default model (``stream: true``: as it is generated)."""
        chat_request = await read_chat_request(request, limit, verifier)
        return await answer_chat(service, chat_request, None)

    @app.post("/api/chat/{model_type}", response_model=ChatResponse)
    async def chat_with_model(model_type: str, request: Request, service: ServiceDep) -> Response:
        """Answer a prompt with the model served as ``model_type``."""
        service.model_slot(model_type)  # 404 before reading the body
        chat_request = await read_chat_request(request, limit, verifier)
        return await answer_chat(service, chat_request, model_type)

    install_openai_routes(app, service, limit, verifier)

    @app.get("/health", response_model_exclude_none=True)  # no "nonce": null off-network
    async def health(service: ServiceDep) -> HealthResponse:
        """Status, uptime and queue depth; 503 while a model is loading."""
        return service.health()

    @app.get("/info")
    async def info(service: ServiceDep) -> InfoResponse:
        """The default model's description."""
        return service.info()

    @app.get("/info/{model_type}")
    async def info_of_model(model_type: str, service: ServiceDep) -> InfoResponse:
        """The description of the model served as ``model_type``."""
        return service.info(model_type)

    return app
