"""Request limits in front of every coordinator route: a pure ASGI middleware.

``RequestGuard`` refuses, before any route or body parser runs:

- dev mode: requests whose ``Host`` is not a loopback name, or whose ``Origin`` is a
  foreign site (403), so a web page cannot reach a laptop's dev coordinator through DNS
  rebinding or a cross-site request;
- a request head larger than ``coordinator.max_header_bytes`` (431; outside dev mode h11
  refuses it while reading, and every head is due within ``coordinator.header_timeout_s``,
  see :mod:`.head_deadline`);
- a body larger than ``coordinator.max_body_bytes`` (413): a declared ``Content-Length``
  is refused without reading a byte; a streamed (chunked) body is read only up to the
  limit; either must arrive within ``coordinator.body_timeout_s`` (408);
- a JSON body nested deeper than ``coordinator.max_json_depth`` (400), which the standard
  library's parser would answer with a RecursionError (a 500).

The body is read here (at most the limit) and replayed to the app, then ``receive`` is
the server's again (so the app still hears ``http.disconnect``); a route may take it
whole from ``scope[GUARDED_BODY]`` instead of reading it once more.

:func:`server_options` are uvicorn's own limits for the same settings.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from tensornode.config import Settings

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

GUARDED_BODY = "tensornode.body"
"""The scope key of a request's whole body, as the guard read it."""

# A JSON string (escapes included) or one bracket: what nesting depth is counted over.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class Refused(Exception):
    """A request this guard answers itself: ``status`` and the one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn Config options for the coordinator's connection-level limits: h11 outside
    dev mode (it refuses a request head over ``max_header_bytes`` while reading it, where
    httptools buffers a head of any size), idle keep-alive connections closed, and each
    request head due within ``header_timeout_s`` (:mod:`.head_deadline`)."""
    from tensornode.coordinator.head_deadline import protocol_class

    limits = settings.coordinator
    parser = limits.http_parser or ("httptools" if settings.dev_mode else "h11")
    return {
        "http": protocol_class(parser, limits.header_timeout_s),
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "timeout_keep_alive": limits.header_timeout_s,
    }


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped)."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(body):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token[0] in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


@functools.lru_cache(maxsize=256)  # a dev-mode check on every request: few distinct hosts
def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback address, with or without a port (``[::1]:8000`` too)."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1 : name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _header(scope: MutableMapping[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class RequestGuard:
    """The ASGI middleware; ``app.add_middleware(RequestGuard, settings=settings)``."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.dev_mode = settings.dev_mode
        self.limits = settings.coordinator

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_head(scope)
            body = await self._read_body(scope, receive)
        except Refused as refusal:
            await _answer(send, refusal)
            return
        if body is None:
            await self.app(scope, receive, send)
            return
        scope[GUARDED_BODY] = body
        await self.app(scope, _replay(body, receive), send)

    def _check_head(self, scope: MutableMapping[str, Any]) -> None:
        size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if size > self.limits.max_header_bytes:
            raise Refused(431, f"request headers larger than {self.limits.max_header_bytes} bytes")
        if not self.dev_mode:
            return
        host = _header(scope, b"host")
        if host is not None and not is_loopback_host(host):
            raise Refused(
                403, f"dev mode answers requests addressed to loopback only, not Host {host!r}"
            )
        origin = _header(scope, b"origin")
        foreign = origin not in (None, "null") and not is_loopback_host(
            urlsplit(origin).netloc or origin if origin else ""
        )
        if foreign:
            raise Refused(403, f"dev mode refuses cross-site requests from {origin!r}")

    async def _read_body(self, scope: MutableMapping[str, Any], receive: Receive) -> bytes | None:
        """The whole body (at most the limit), or None for a request without one."""
        limit = self.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        chunked = _header(scope, b"transfer-encoding") is not None
        if declared is None and not chunked:
            return None
        if declared is not None:
            if not declared.strip().isdigit():
                raise Refused(400, "Content-Length must be a number of bytes")
            if int(declared) > limit:
                raise Refused(413, f"request body larger than {limit} bytes")
        body = await self._receive_body(receive, limit)
        deepest = self.limits.max_json_depth
        openers = body.count(b"[") + body.count(b"{")  # fewer cannot nest deeper
        if openers > deepest and _is_json(scope) and json_depth(body) > deepest:
            raise Refused(400, f"JSON nested deeper than {deepest} levels")
        return body

    async def _receive_body(self, receive: Receive, limit: int) -> bytes:
        """The body, due whole within ``body_timeout_s``: one timer for all its parts (an
        ``asyncio.timeout`` block per part cost ~60 µs on a cold machine, every request)."""
        timeout = self.limits.body_timeout_s
        task = asyncio.current_task()
        assert task is not None
        late = _Late(task)
        timer = task.get_loop().call_later(timeout, late.expire)
        parts: list[bytes] = []
        size = 0
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Refused(400, "the client went away before sending its body")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"request body larger than {limit} bytes")
                parts.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(parts)
        except asyncio.CancelledError:
            if not late.expired:
                raise
            task.uncancel()
            raise Refused(408, f"request body not received within {timeout:g} s") from None
        finally:
            timer.cancel()
            late.done = True


class _Late:
    """Cancels a body's reading task when its time is up (unless it is done by then)."""

    __slots__ = ("done", "expired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.done = False
        self.expired = False

    def expire(self) -> None:
        if not self.done:
            self.expired = True
            self.task.cancel()


def _is_json(scope: MutableMapping[str, Any]) -> bool:
    content_type = (_header(scope, b"content-type") or "").lower()
    return "json" in content_type or not content_type


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _answer(send: Send, refusal: Refused) -> None:
    body = orjson.dumps({"error": refusal.message})
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
