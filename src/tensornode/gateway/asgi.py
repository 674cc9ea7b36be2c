"""The gateway's hot path as raw ASGI, in front of the coordinator's FastAPI router.

``POST /api/chat``, ``POST /api/chat/{model_type}`` and ``POST /v1/chat/completions``
are answered here without FastAPI's routing, dependency solving and response
validation, which cost more than everything else the gateway does per request
(``bench/gateway_overhead.py``). The behaviour is :mod:`.http_api`'s, the same the
FastAPI routes of :mod:`.routes` give (they stay for the OpenAPI docs and serve these
paths when the fast path is not installed). Every other request passes through.
Unexpected exceptions propagate to the app's error middleware (its 500).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tensornode.errors import PayloadTooLarge, TensorNodeError
from tensornode.gateway.http_api import (
    Incoming,
    Reply,
    check_body_size,
    error_reply,
    openai_error_reply,
    serve_chat,
    serve_completion,
)
from tensornode.gateway.service import Gateway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHAT = "/api/chat"
TYPED_CHAT = "/api/chat/"
COMPLETIONS = "/v1/chat/completions"
MAX_MODEL_TYPE = 40


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body  # disconnected while sending: nothing will read our answer
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        if not message.get("more_body", False):
            return body


def _disconnected(receive: Receive) -> Callable[[], Awaitable[None]]:
    async def wait() -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    return wait


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a :class:`Reply` as raw ASGI messages (an event stream chunk by chunk)."""
    headers = [(b"content-type", reply.media_type.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
    if isinstance(reply.body, bytes):
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    for chunk in reply.body:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class GatewayFastPath:
    """ASGI middleware answering the chat endpoints itself."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            if path == CHAT:
                return await self._serve(scope, receive, send, None)
            if path == COMPLETIONS:
                return await self._serve(scope, receive, send, COMPLETIONS)
            if path.startswith(TYPED_CHAT):
                model_type = path[len(TYPED_CHAT) :]
                if model_type and "/" not in model_type and len(model_type) <= MAX_MODEL_TYPE:
                    return await self._serve(scope, receive, send, model_type)
        await self.app(scope, receive, send)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, model_type: str | None
    ) -> None:
        openai = model_type == COMPLETIONS
        limit = self.gateway.config.max_body_bytes
        try:
            check_body_size(_header(scope, b"content-length"), limit)
            body = await _read_body(receive, limit)
        except TensorNodeError as exc:
            await send_reply(send, openai_error_reply(exc) if openai else error_reply(exc))
            return
        client = scope.get("client")
        incoming = Incoming(
            authorization=_header(scope, b"authorization"),
            client_ip=client[0] if client else None,
            body=body,
            disconnected=_disconnected(receive),
        )
        if openai:
            reply = await serve_completion(self.gateway, incoming)
        else:
            reply = await serve_chat(self.gateway, incoming, model_type)
        await send_reply(send, reply)
