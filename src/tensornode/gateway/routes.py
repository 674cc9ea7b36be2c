"""The gateway's routes, thin over :class:`~tensornode.gateway.service.Gateway`.

- ``POST /api/chat``, ``POST /api/chat/{model_type}``: the miner contract's request and
  answer, plus ``miner_id``; errors ``{"error": "..."}`` as everywhere in the coordinator.
- ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{model}``:
  OpenAI-compatible (openai_compat.py), errors in OpenAI's shape.
- ``POST/GET /gateway/keys``, ``DELETE /gateway/keys/{id}``: the caller's gateway keys.
- ``GET /gateway/status``: the router's view of each healthy miner.

The chat endpoints' behaviour lives in http_api.py (streamed answers: streaming.py);
the routes here serve it: one path for every chat request, plain Starlette routes in
front of the app's others (:func:`serve_chat_routes`; their APIRoutes document them).
``build_app`` calls :func:`attach_gateway` and enters :func:`gateway_running` in its
lifespan (the background candidate refresh and metrics flusher).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.routing import Route

from tensornode.config import Settings
from tensornode.contracts.common import MAX_ROW_NUMBER
from tensornode.coordinator.deps import CurrentAccount
from tensornode.coordinator.limits import GUARDED_BODY
from tensornode.db.session import Database
from tensornode.errors import InvalidInput, NotFound, TensorNodeError
from tensornode.gateway.event_stream import EventStreamResponse
from tensornode.gateway.http_api import (
    Incoming,
    Reply,
    check_body_size,
    error_reply,
    openai_error_reply,
    serve_chat,
    serve_completion,
)
from tensornode.gateway.leaving import disconnect_of
from tensornode.gateway.schemas import (
    GatewayChatResponse,
    GatewayKeyCreate,
    GatewayKeyCreated,
    GatewayKeyPublic,
    GatewayKeysPublic,
)
from tensornode.gateway.service import Gateway
from tensornode.net.signing import RequestSigner
from tensornode.openai_compat import model_type_of
from tensornode.scoring.traffic import TrafficSampler

router = APIRouter(tags=["gateway"])


def attach_gateway(
    app: FastAPI,
    settings: Settings,
    db: Database,
    *,
    registry: CollectorRegistry | None = None,
    signer: RequestSigner | None = None,
    sampler: TrafficSampler | None = None,
) -> Gateway:
    """Build the app's gateway (not started), its metrics on ``registry``; requests to
    miners signed by ``signer``, a share of answers kept by ``sampler`` for grading."""
    gateway = Gateway(settings, db, registry=registry, signer=signer, sampler=sampler)
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


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _body(request: Request, limit: int) -> bytes:
    """The request's body: as the request guard read it (limits.py), or read here."""
    guarded: bytes | None = request.scope.get(GUARDED_BODY)
    if guarded is not None:
        check_body_size(str(len(guarded)), limit)
        return guarded
    check_body_size(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        check_body_size(str(len(body)), limit)
    return bytes(body)


async def _incoming(request: Request, limit: int) -> Incoming:
    body = await _body(request, limit)
    disconnected = disconnect_of(request.receive)
    return Incoming(request.headers.get("authorization"), _client_ip(request), body, disconnected)


def _response(reply: Reply) -> Response:
    if isinstance(reply.body, bytes):
        return Response(reply.body, reply.status, reply.headers, media_type=reply.media_type)
    return EventStreamResponse(
        reply.body, status_code=reply.status, headers=reply.headers, on_close=reply.on_close
    )


_CHAT_DOC: dict[str, Any] = {
    "response_model": GatewayChatResponse,
    "responses": {
        401: {"description": "no or bad gateway key (outside dev mode)"},
        422: {"description": "invalid request, as the miner API words it"},
        429: {"description": "rate limited; Retry-After says when to retry"},
        502: {"description": "every miner tried failed"},
        503: {"description": "no healthy miner serves the model type"},
    },
}


MODEL_TYPE_MAX = 40


async def serve_api_chat(request: Request) -> Response:
    """``POST /api/chat`` and ``POST /api/chat/{model_type}`` (a plain route's endpoint)."""
    gateway = _gateway(request)
    model_type: str | None = request.path_params.get("model_type")
    try:
        if model_type is not None and len(model_type) > MODEL_TYPE_MAX:
            raise InvalidInput(f"model_type: at most {MODEL_TYPE_MAX} characters", status=422)
        incoming = await _incoming(request, gateway.config.max_body_bytes)
    except TensorNodeError as exc:
        return _response(error_reply(exc))
    return _response(await serve_chat(gateway, incoming, model_type))


async def serve_chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions`` (a plain route's endpoint)."""
    gateway = _gateway(request)
    try:
        incoming = await _incoming(request, gateway.config.max_body_bytes)
    except TensorNodeError as exc:
        return _response(openai_error_reply(exc))
    return _response(await serve_completion(gateway, incoming))


CHAT_ROUTES = (
    ("/api/chat", serve_api_chat),
    ("/api/chat/{model_type}", serve_api_chat),
    ("/v1/chat/completions", serve_chat_completions),
)


def serve_chat_routes(app: FastAPI) -> None:
    """Answer the chat endpoints with plain Starlette routes, matched before the app's
    other routes. Their APIRoutes below only document them (OpenAPI, /docs): FastAPI's
    per-request machinery (the included routers' matching, dependency solving) cost a
    streamed answer ~0.15 ms of its time to first token on the 2-core bench machine
    (``bench/gateway_streaming.py``), and the chat routes need none of it."""
    plain = [Route(path, endpoint, methods=["POST"]) for path, endpoint in CHAT_ROUTES]
    app.router.routes[0:0] = plain


@router.post("/api/chat", **_CHAT_DOC)
async def chat(request: Request) -> Response:
    """Answer a prompt (the miner API's ``ChatRequest``) with the best available miner."""
    return await serve_api_chat(request)


@router.post("/api/chat/{model_type}", **_CHAT_DOC)
async def chat_with_model(
    request: Request, model_type: Annotated[str, Path(max_length=MODEL_TYPE_MAX)]
) -> Response:
    """Answer with a miner serving ``model_type``; 404 ``Model not available`` if unknown."""
    return await serve_api_chat(request)


# -- OpenAI-compatible ---------------------------------------------------------------


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    """OpenAI's chat completions (``stream`` too); ``model`` is a model type, e.g. ``llm``."""
    return await serve_chat_completions(request)


def openai_error(exc: TensorNodeError) -> Response:
    return _response(openai_error_reply(exc))


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
    key_id: Annotated[int, Path(ge=1, le=MAX_ROW_NUMBER)], account: CurrentAccount, request: Request
) -> GatewayKeyPublic:
    """Revoke one of your gateway keys; it is refused (401) from then on."""
    return _public(await _gateway(request).keys.revoke(account.id, key_id))


@router.get("/gateway/status")
async def gateway_status(request: Request) -> dict[str, Any]:
    """The router's view of each healthy miner: load, latency EWMA, breaker, score."""
    return {"miners": _gateway(request).status()}
