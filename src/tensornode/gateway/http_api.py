"""The chat endpoints' HTTP behaviour, apart from any web framework.

:func:`serve_chat` (``/api/chat``) and :func:`serve_completion`
(``/v1/chat/completions``) take an :class:`Incoming` (headers that matter, the body,
and a way to learn that the user disconnected) and return a :class:`Reply`; the
FastAPI routes (routes.py) serve them. ``stream: true`` makes the reply's body an async
iterator relaying the miner's answer as it is generated (streaming.py).

Every answer carries ``X-TensorNode-Miner-Id`` and ``X-TensorNode-Overhead-Ms`` (the
gateway's own time: total minus the time spent waiting on miners). Errors are
``{"error": "..."}`` on ``/api/chat`` and OpenAI's ``{"error": {"message", "type",
"code"}}`` under ``/v1``; 429 and 503 carry ``Retry-After``. If the user disconnects
before the answer, the request to the miner is cancelled (its connection closed) and
the reply is :data:`CLIENT_CLOSED`, which nobody reads. A streamed reply's
``X-TensorNode-Overhead-Ms`` is the gateway's own time before its head went out.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from tensornode.contracts.miner import ChatRequest
from tensornode.errors import (
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    TensorNodeError,
)
from tensornode.gateway.completion_call import CompletionCall, completion_call
from tensornode.gateway.fastjson import UnsafeJSON, dumps, loads
from tensornode.gateway.leaving import Leaving
from tensornode.gateway.plain_chat import plainly_valid
from tensornode.gateway.service import Gateway, GatewayAnswer
from tensornode.gateway.streaming import (
    MinerStream,
    finish,
    open_stream,
    relay_chat,
    relay_completion,
)
from tensornode.gateway.upstream import chat_body as chat_payload
from tensornode.miner.app import validation_message
from tensornode.miner.check_rules import KNOWN_MODEL_TYPES
from tensornode.openai_compat import (
    CompletionChunks,
    completion_body,
    model_type_of,
    openai_error_body,
)
from tensornode.sse import EVENT_STREAM

T = TypeVar("T")
CLIENT_CLOSED = 499
"""Status of a request whose user disconnected (nginx's convention; nobody reads it)."""
JSON = "application/json"
WATCH_AFTER_S = 0.05
"""A user's disconnect is noticed this long after the request, at the latest later."""
perf_counter = time.perf_counter


@dataclass(slots=True)
class Incoming:
    """What the chat endpoints need of a request."""

    authorization: str | None
    client_ip: str | None
    body: bytes
    disconnected: Callable[[], Awaitable[None]] | None
    """Returns once the user has disconnected (never, while they wait). None where the
    server itself cancels the request's task when its user disconnects."""


@dataclass
class Reply:
    """Status, headers and body (an async iterator of chunks for an event stream)."""

    status: int
    body: bytes | AsyncIterator[bytes]
    media_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    on_close: Callable[[], None] | None = None
    """For a streamed body: run when the response has ended, however (idempotent)."""


class ClientGone(Exception):
    """The user disconnected before the answer."""


def until_disconnect(
    work: Awaitable[T], disconnected: Callable[[], Awaitable[None]] | None
) -> Awaitable[T]:
    """``work``, to await in this task; if the user disconnects first, it is cancelled
    (ClientGone). With ``disconnected`` None (the server cancels the task itself when the
    user leaves) it is ``work`` itself, not a frame more."""
    return work if disconnected is None else _watched(work, disconnected)


async def _watched(work: Awaitable[T], disconnected: Callable[[], Awaitable[None]]) -> T:
    """This is the gateway's hot path, so it is cheap: the work runs in the request's own
    task, and the watcher (a task that cancels it) starts only if the work takes longer
    than ``WATCH_AFTER_S``; most answers arrive first and cost one timer handle."""
    task = asyncio.current_task()
    assert task is not None
    leaving = Leaving(task, disconnected)
    timer = task.get_loop().call_later(WATCH_AFTER_S, leaving.start)
    try:
        return await work
    except asyncio.CancelledError:
        if leaving.gone:
            task.uncancel()
            raise ClientGone from None
        raise
    finally:
        timer.cancel()
        leaving.stop()


def body_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {limit} bytes")


def check_body_size(declared: str | None, limit: int) -> None:
    """413 before reading a body whose Content-Length is over the limit."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)


def parse_chat_request(body: bytes) -> ChatRequest:
    """A ``/api/chat`` body, validated with the miner API's rules and words."""
    return _validated(_chat_object(body))


def chat_fields(body: bytes) -> tuple[dict[str, Any], int | None, bool]:
    """Validate a ``/api/chat`` body as :func:`parse_chat_request` does; the body's
    object, the max_tokens the user sent (None when none) and whether they asked for a
    stream.

    The hot path's version: a body that plainly satisfies ChatRequest (the usual one) is
    checked by hand, without building the model; anything else (an error to word, or a
    value pydantic would coerce) goes through ChatRequest itself.
    """
    data = _chat_object(body)
    if plainly_valid(data):
        max_tokens: int | None = data.get("max_tokens")
        return data, max_tokens, data.get("stream", False) is True
    request = _validated(data)
    sent = request.max_tokens if "max_tokens" in request.model_fields_set else None
    return data, sent, request.stream


def _chat_object(body: bytes) -> dict[str, Any]:
    try:
        data = loads(body)
    except UnsafeJSON as exc:
        raise InvalidInput(str(exc)) from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidInput("malformed JSON body") from None
    if not isinstance(data, dict):
        raise InvalidInput("request body must be a JSON object", status=422)
    return data


def _validated(data: dict[str, Any]) -> ChatRequest:
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(validation_message(exc), status=422) from None


def _retry_after(exc: TensorNodeError) -> dict[str, str]:
    if isinstance(exc, RateLimited | ServiceUnavailable) and exc.retry_after:
        return {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return {}


def error_reply(exc: TensorNodeError) -> Reply:
    """Ours: ``{"error": message}``."""
    body = dumps({"error": exc.message})
    return Reply(exc.status, body, headers=_retry_after(exc))


def openai_error_reply(exc: TensorNodeError) -> Reply:
    """OpenAI's: ``{"error": {"message", "type", "code", "param"}}``."""
    body = json.dumps(openai_error_body(exc.status, exc.message)).encode()
    return Reply(exc.status, body, headers=_retry_after(exc))


def _answer_headers(gateway: Gateway, answer: GatewayAnswer, started: float) -> dict[str, str]:
    overhead_s = max(0.0, perf_counter() - started - answer.upstream_s)
    gateway.metrics.overhead.observe(overhead_s)
    return {
        "X-TensorNode-Miner-Id": answer.miner_id,
        "X-TensorNode-Overhead-Ms": f"{overhead_s * 1000.0:.3f}",
    }


def known_model_type(gateway: Gateway, model_type: str) -> bool:
    """Served by a healthy miner now, or one of the guide's categories (then 503, not 404)."""
    return gateway.serves(model_type) or model_type in KNOWN_MODEL_TYPES


async def serve_chat(gateway: Gateway, incoming: Incoming, model_type: str | None) -> Reply:
    """``POST /api/chat[/{model_type}]``: the miner contract's answer plus ``miner_id``."""
    started = perf_counter()
    try:
        await gateway.admit(incoming.authorization, incoming.client_ip)
        if model_type is not None and not known_model_type(gateway, model_type):
            raise NotFound("Model not available")
        data, max_tokens, stream = chat_fields(incoming.body)
        gateway.check_max_tokens(max_tokens)
        if stream:
            opening = open_stream(gateway, chat_payload(data), model_type)
            miner_stream = await until_disconnect(opening, incoming.disconnected)
            return _streamed(gateway, miner_stream, started, relay_chat(miner_stream))
        work = gateway.forward(incoming.body, model_type)  # the body as the user sent it
        answer = await until_disconnect(work, incoming.disconnected)
    except ClientGone:
        return Reply(CLIENT_CLOSED, b"")
    except TensorNodeError as exc:
        return error_reply(exc)
    return Reply(200, chat_body(answer), headers=_answer_headers(gateway, answer, started))


def _streamed(
    gateway: Gateway, stream: MinerStream, started: float, relay: AsyncIterator[bytes]
) -> Reply:
    """The reply relaying a miner's stream, whose head is in: the user's head goes out
    now, while the miner makes its first token (which the relay waits for, failing over
    until then). The relay records and frees the miner when it ends; should the response
    end before the relay began, its ``on_close`` frees the miner."""
    overhead_s = max(0.0, perf_counter() - started - stream.waited_s)
    gateway.metrics.overhead.observe(overhead_s)
    headers = {
        "X-TensorNode-Miner-Id": stream.miner_id,
        "X-TensorNode-Overhead-Ms": f"{overhead_s * 1000.0:.3f}",
        "Cache-Control": "no-cache",
    }
    return Reply(200, relay, EVENT_STREAM, headers, on_close=lambda: finish(stream, "cancelled"))


def chat_body(answer: GatewayAnswer) -> bytes:
    """:class:`GatewayChatResponse` as JSON, written directly (the hot path's last step)."""
    reply = answer.answer
    usage = reply.usage
    body = {
        "response": reply.text,
        "model": reply.model,
        "timestamp": reply.timestamp_text,
        "processing_time": reply.processing_time,
        "usage": None
        if usage is None
        else {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": usage[2]},
        "miner_id": answer.miner_id,
    }
    return dumps(body)


async def serve_completion(gateway: Gateway, incoming: Incoming) -> Reply:
    """``POST /v1/chat/completions``: OpenAI's chat completion, streamed or not."""
    started = perf_counter()
    try:
        await gateway.admit(incoming.authorization, incoming.client_ip)
        call = completion_call(incoming.body)
        model_type = model_type_of(call.model)
        if not known_model_type(gateway, model_type):
            raise NotFound(f"model {call.model!r} not found: GET /v1/models lists them")
        if call.stream:
            return await _stream_completion(gateway, incoming, call, model_type, started)
        request = call.chat_request()
        answer = await until_disconnect(gateway.chat(request, model_type), incoming.disconnected)
    except ClientGone:
        return Reply(CLIENT_CLOSED, b"")
    except TensorNodeError as exc:
        return openai_error_reply(exc)
    headers = _answer_headers(gateway, answer, started)
    completion: dict[str, Any] = completion_body(
        answer.response, request, model=call.model, miner_id=answer.miner_id
    )
    return Reply(200, json.dumps(completion).encode(), headers=headers)


async def _stream_completion(
    gateway: Gateway, incoming: Incoming, call: CompletionCall, model_type: str, started: float
) -> Reply:
    """A streamed chat completion: the miner asked to stream, its events as chunks."""
    gateway.check_max_tokens(call.fields.get("max_tokens"))
    payload = chat_payload({**call.fields, "stream": True})
    opening = open_stream(gateway, payload, model_type)
    miner_stream = await until_disconnect(opening, incoming.disconnected)
    chunks = CompletionChunks(call.model, include_usage=call.include_usage)
    relay = relay_completion(miner_stream, chunks, call.max_tokens)
    return _streamed(gateway, miner_stream, started, relay)
