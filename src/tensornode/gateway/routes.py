"""The gateway's routes, thin over :class:`~tensornode.gateway.service.Gateway`.

- ``POST /api/chat``, ``POST /api/chat/{model_type}``: the miner contract's request and
  answer, plus ``miner_id``; errors ``{"error": "..."}`` as everywhere in the coordinator.
- ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{model}``:
  OpenAI-compatible (openai_compat.py), errors in OpenAI's shape.
- ``POST/GET /gateway/keys``, ``DELETE /gateway/keys/{id}``: the caller's gateway keys.

Every answered chat carries ``X-TensorNode-Miner-Id`` and ``X-TensorNode-Overhead-Ms``
(the gateway's own time: total minus the time spent waiting on miners). When the user
disconnects before the answer, the request to the miner is cancelled.

``build_app`` calls :func:`attach_gateway` and enters :func:`gateway_running` in its
lifespan (the background candidate refresh and metrics flusher).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import APIRouter, FastAPI, Path, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CollectorRegistry

from tensornode.coordinator.deps import CurrentAccount
from tensornode.errors import (
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    TensorNodeError,
)
from tensornode.gateway.openai_compat import (
    completion_body,
    model_type_of,
    openai_error_body,
    parse_completion_request,
    stream_events,
    to_chat_request,
)
from tensornode.gateway.schemas import (
    GatewayChatResponse,
    GatewayKeyCreate,
    GatewayKeyCreated,
    GatewayKeyPublic,
    GatewayKeysPublic,
)
from tensornode.gateway.service import Gateway, GatewayAnswer
from tensornode.miner.app import read_chat_request
from tensornode.miner.check_rules import KNOWN_MODEL_TYPES

if TYPE_CHECKING:
    from tensornode.coordinator.core import Coordinator

T = TypeVar("T")
router = APIRouter(tags=["gateway"])
CLIENT_CLOSED = 499
"""Logged status of a request whose user disconnected (nobody reads it)."""


class ClientDisconnected(Exception):
    """The user went away before the answer; the miner request was cancelled."""


def attach_gateway(
    app: FastAPI, core: Coordinator, *, registry: CollectorRegistry | None = None
) -> Gateway:
    """Build the app's gateway (not started), its metrics on ``registry``."""
    gateway = Gateway(core.settings, core.db, registry=registry)
    app.state.gateway = gateway
    return gateway


@asynccontextmanager
async def gateway_running(gateway: Gateway) -> AsyncIterator[Gateway]:
    """Refresh candidates and flush metrics for the duration of the block."""
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.close()


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def _until_disconnect(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        continue


async def cancel_on_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the user disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_until_disconnect(request))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        watcher.cancel()
    if task.cancelled():
        raise ClientDisconnected
    return task.result()


def _answer_headers(gateway: Gateway, answer: GatewayAnswer, started: float) -> dict[str, str]:
    overhead_s = max(0.0, time.perf_counter() - started - answer.upstream_s)
    gateway.metrics.overhead.observe(overhead_s)
    return {
        "X-TensorNode-Miner-Id": answer.miner_id,
        "X-TensorNode-Overhead-Ms": f"{overhead_s * 1000.0:.3f}",
    }


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _check_model_type(gateway: Gateway, model_type: str) -> None:
    if not gateway.serves(model_type) and model_type not in KNOWN_MODEL_TYPES:
        raise NotFound("Model not available")


async def _chat(request: Request, model_type: str | None) -> Response:
    started = time.perf_counter()
    gateway = _gateway(request)
    await gateway.admit(request.headers.get("authorization"), _client_ip(request))
    if model_type is not None:
        _check_model_type(gateway, model_type)
    chat_request = await read_chat_request(request, gateway.config.max_body_bytes)
    try:
        answer = await cancel_on_disconnect(request, gateway.chat(chat_request, model_type))
    except ClientDisconnected:
        return Response(status_code=CLIENT_CLOSED)
    body = GatewayChatResponse(**dict(answer.response), miner_id=answer.miner_id).model_dump_json()
    headers = _answer_headers(gateway, answer, started)
    return Response(body, media_type="application/json", headers=headers)


_CHAT_DOC: dict[str, Any] = {
    "response_model": GatewayChatResponse,
    "responses": {
        401: {"description": "no or bad gateway key (outside dev mode)"},
        422: {"description": "invalid request, as the miner API words it"},
        429: {"description": "rate limited; Retry-After says when to retry"},
        503: {"description": "no healthy miner serves the model type"},
    },
}


@router.post("/api/chat", **_CHAT_DOC)
async def chat(request: Request) -> Response:
    """Answer a prompt (the miner API's ``ChatRequest``) with the best available miner."""
    return await _chat(request, None)


@router.post("/api/chat/{model_type}", **_CHAT_DOC)
async def chat_with_model(
    request: Request, model_type: Annotated[str, Path(max_length=40)]
) -> Response:
    """Answer with a miner serving ``model_type``; 404 ``Model not available`` if unknown."""
    return await _chat(request, model_type)


# -- OpenAI-compatible ---------------------------------------------------------------


def openai_error(exc: TensorNodeError) -> JSONResponse:
    """One of our errors in OpenAI's shape (with Retry-After when it has one)."""
    response = JSONResponse(openai_error_body(exc.status, exc.message), status_code=exc.status)
    if isinstance(exc, RateLimited | ServiceUnavailable) and exc.retry_after:
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    return response


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidInput(f"request body is larger than {limit} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise InvalidInput(f"request body is larger than {limit} bytes", status=413)
    return bytes(body)


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """OpenAI's chat completions (``stream`` too); ``model`` is a model type, e.g. ``llm``."""
    started = time.perf_counter()
    gateway = _gateway(request)
    try:
        await gateway.admit(request.headers.get("authorization"), _client_ip(request))
        body = parse_completion_request(await _read_body(request, gateway.config.max_body_bytes))
        model_type = model_type_of(body.model)
        if not gateway.serves(model_type) and model_type not in KNOWN_MODEL_TYPES:
            raise NotFound(f"model {body.model!r} not found: GET /v1/models lists them")
        chat_request = to_chat_request(body)
        answer = await cancel_on_disconnect(request, gateway.chat(chat_request, model_type))
    except ClientDisconnected:
        return Response(status_code=CLIENT_CLOSED)
    except TensorNodeError as exc:
        return openai_error(exc)
    headers = _answer_headers(gateway, answer, started)
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        events = list(
            stream_events(
                answer.response, chat_request, model=body.model, include_usage=include_usage
            )
        )
        return StreamingResponse(iter(events), media_type="text/event-stream", headers=headers)
    completion = completion_body(
        answer.response, chat_request, model=body.model, miner_id=answer.miner_id
    )
    return JSONResponse(completion, headers=headers)


def _model_object(model_type: str) -> dict[str, Any]:
    return {"id": model_type, "object": "model", "created": 0, "owned_by": "tensornode"}


@router.get("/v1/models")
async def list_models(request: Request) -> Response:
    """Model types (subnets) with at least one healthy miner."""
    gateway = _gateway(request)
    try:
        await gateway.admit(request.headers.get("authorization"), _client_ip(request))
    except TensorNodeError as exc:
        return openai_error(exc)
    data = [_model_object(t) for t in gateway.model_types()]
    return JSONResponse({"object": "list", "data": data})


@router.get("/v1/models/{model}")
async def get_model(request: Request, model: Annotated[str, Path(max_length=60)]) -> Response:
    """One model type, if a healthy miner serves it."""
    gateway = _gateway(request)
    try:
        await gateway.admit(request.headers.get("authorization"), _client_ip(request))
        if not gateway.serves(model_type_of(model)):
            raise NotFound(f"model {model!r} not found")
    except TensorNodeError as exc:
        return openai_error(exc)
    return JSONResponse(_model_object(model_type_of(model)))


# -- keys ----------------------------------------------------------------------------


def _public(row: Any) -> GatewayKeyPublic:
    return GatewayKeyPublic.model_validate(row, from_attributes=True)


@router.post("/gateway/keys", status_code=status.HTTP_201_CREATED)
async def create_key(
    body: GatewayKeyCreate, account: CurrentAccount, request: Request
) -> GatewayKeyCreated:
    """A new gateway key of yours; ``key`` is shown only in this answer."""
    row, secret = await _gateway(request).keys.create(
        account.id, name=body.name, rate_limit_per_min=body.rate_limit_per_min
    )
    return GatewayKeyCreated(**_public(row).model_dump(), key=secret)


@router.get("/gateway/keys")
async def list_keys(account: CurrentAccount, request: Request) -> GatewayKeysPublic:
    """Your gateway keys (never their secrets), revoked ones included."""
    rows = await _gateway(request).keys.list(account.id)
    return GatewayKeysPublic(data=[_public(r) for r in rows], count=len(rows))


@router.delete("/gateway/keys/{key_id}")
async def revoke_key(
    key_id: Annotated[int, Path(ge=1)], account: CurrentAccount, request: Request
) -> GatewayKeyPublic:
    """Revoke one of your gateway keys; it is refused (401) from then on."""
    return _public(await _gateway(request).keys.revoke(account.id, key_id))


@router.get("/gateway/status")
async def gateway_status(request: Request) -> dict[str, Any]:
    """The router's view of each healthy miner: load, latency EWMA, breaker, score."""
    return {"miners": _gateway(request).status()}
