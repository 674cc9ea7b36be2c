"""The gateway's hot path as raw ASGI, in front of the coordinator's FastAPI app.

``POST /api/chat``, ``POST /api/chat/{model_type}`` and ``POST /v1/chat/completions``
are answered here without FastAPI's routing, dependency solving, response validation
and middleware (Starlette's error middleware, FastAPI's telemetry and body limit), which
cost more than everything else the gateway does per request
(``bench/gateway_overhead.py``): ``build_app`` makes a :class:`FrontedApp` and
:func:`install_fast_path` puts :class:`GatewayFastPath` in front of its whole stack
(on a plain FastAPI app it goes in as middleware). The behaviour is :mod:`.http_api`'s,
the same the FastAPI routes of :mod:`.routes` give (they stay for the OpenAPI docs and
serve these paths when the fast path is off). Every other request passes through.
Unexpected exceptions are logged and answered as the app's catch-all handler does.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from types import MethodType
from typing import Any

from fastapi import FastAPI

from tensornode.coordinator.serving import DirectHandler
from tensornode.errors import TensorNodeError
from tensornode.gateway.direct import GatewayDirect
from tensornode.gateway.http_api import (
    Incoming,
    Reply,
    body_too_large,
    chat_route,
    check_body_size,
    reply_headers,
    route_error_reply,
    serve_route,
)
from tensornode.gateway.service import Gateway

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DirectRoute = Callable[[bytes, bytes], DirectHandler | None]

log = logging.getLogger(__name__)


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    """The request's Content-Length and Authorization headers (None when absent)."""
    length = authorization = None
    for key, value in scope["headers"]:
        if key == b"content-length":
            length = value.decode("latin-1")
        elif key == b"authorization":
            authorization = value.decode("latin-1")
    return length, authorization


async def _read_body(receive: Receive, limit: int) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return body  # disconnected while sending: nothing will read our answer
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit:
            raise body_too_large(limit)
        if not message.get("more_body", False):
            return body


def _disconnected(receive: Receive) -> Callable[[], Awaitable[None]]:
    async def wait() -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    return wait


INTERNAL_ERROR = Reply(500, b'{"error":"internal error"}')
"""What the app's catch-all handler answers (coordinator/app.py)."""


async def send_reply(send: Send, reply: Reply) -> None:
    """Send a :class:`Reply` as raw ASGI messages (an event stream chunk by chunk)."""
    headers = reply_headers(reply)
    if isinstance(reply.body, bytes):
        headers.append((b"content-length", b"%d" % len(reply.body)))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
        return
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    for chunk in reply.body:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


class GatewayFastPath:
    """ASGI middleware answering the chat endpoints itself.

    In front of the whole app (:func:`install_fast_path` on a :class:`FrontedApp`, as
    ``build_app`` makes) it also stands in for Starlette's error middleware on its own
    routes: an unexpected exception is logged and answered ``500 {"error": "internal
    error"}``, as the app's catch-all handler does.
    """

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            route = chat_route(scope["path"])
            if route is not None:
                return await self._guarded(scope, receive, send, route)
        await self.app(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send, route: str) -> None:
        try:
            reply = await self._answer(scope, receive, route)
        except Exception as exc:
            log.error("unhandled error on POST %s", scope["path"], exc_info=exc)
            reply = INTERNAL_ERROR
        await send_reply(send, reply)

    async def _answer(self, scope: Scope, receive: Receive, route: str) -> Reply:
        limit = self.gateway.config.max_body_bytes
        length, authorization = _headers(scope)
        try:
            check_body_size(length, limit)
            body = await _read_body(receive, limit)
        except TensorNodeError as exc:
            return route_error_reply(route, exc)
        client = scope.get("client")
        incoming = Incoming(
            authorization=authorization,
            client_ip=client[0] if client else None,
            body=body,
            disconnected=_disconnected(receive),
        )
        return await serve_route(self.gateway, route, incoming)


class FrontedApp(FastAPI):
    """FastAPI with a raw ASGI app in front of its whole stack (``front``), if set, and
    routes the HTTP protocol may answer itself (``direct``, see coordinator/serving.py).

    ``front`` gets every request first and hands what it does not answer to FastAPI;
    FastAPI's middleware (and Starlette's error middleware, telemetry, body limit) cost
    more per request than the gateway's fast path does, and ``add_middleware`` can only
    go inside them.
    """

    front: ASGIApp | None = None
    direct: DirectRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None:
            await front(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def direct_handler(self, method: bytes, url: bytes) -> DirectHandler | None:
        """The handler of a direct route (:class:`~tensornode.coordinator.serving.DirectRouter`)."""
        direct = self.direct
        return None if direct is None else direct(method, url)


def install_fast_path(app: FastAPI, gateway: Gateway) -> None:
    """The fast path in front of ``app`` (a :class:`FrontedApp`), else as its middleware.

    On a FrontedApp the chat routes are direct routes too (gateway/direct.py): the
    coordinator's HTTP protocol answers them without ASGI where it can.
    """
    if isinstance(app, FrontedApp):
        app.front = GatewayFastPath(MethodType(FastAPI.__call__, app), gateway)
        app.direct = GatewayDirect(gateway).handler
    else:
        app.add_middleware(GatewayFastPath, gateway=gateway)
