"""How the coordinator is served: uvicorn on uvloop and httptools, one write per response.

:func:`server_config` is the uvicorn configuration of ``tensornode coordinator`` and
``tensornode up``: uvloop (where installed) and httptools, no access log (its
logger is silenced anyway, see logs.py; the call still cost CPU per request), and
:class:`CoalescingHttpProtocol`.

uvicorn writes a response's status line and headers to the socket as soon as the app
sends ``http.response.start``, and the body with the next message: two ``send``
syscalls and two TCP segments for every small answer, and on loopback each costs about
as much CPU as everything else the gateway's fast path does
(``bench/gateway_overhead.py``). :class:`CoalescingHttpProtocol` holds the head back
until the body's first write and sends both at once; a head whose body is not written
within the same event-loop iteration (a slow stream) is sent on its own then, so no
client waits longer for headers than for one turn of the loop.

Direct routes: an app that names some of its routes in ``direct_handler`` (a
:class:`DirectRouter`, as the coordinator's :class:`~tensornode.gateway.asgi.FrontedApp`
does for the gateway's chat endpoints) has those requests answered by the protocol
itself: the handler gets a :class:`DirectRequest` (URL, headers, client, body) and
returns a :class:`DirectResponse`, which goes out framed in one write; if the client
disconnects first, the handler's task is cancelled. No ASGI scope, receive/send
messages or per-message header checks: on a shared 2-core machine that machinery cost
about a quarter of the gateway's CPU per request (``bench/gateway_overhead.py``). A
request goes the ordinary ASGI way, where the same route answers it, whenever the direct
way could differ: a body without Content-Length or over :data:`DIRECT_MAX_BODY`,
``Expect: 100-continue``, an upgrade, proxy headers (uvicorn's ProxyHeadersMiddleware
decides who the client is), a request pipelined behind an unfinished one, or a server
with a root path, a concurrency limit or an access log.

Keep-alive: uvicorn arms a timer after every response and cancels it when the next
request arrives (a timer handle made and dropped per request); this protocol keeps at
most one per connection, which on firing closes the connection if it has been idle for
``timeout_keep_alive`` and otherwise waits out the rest.
"""

from __future__ import annotations

import asyncio
import gc
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
DIRECT_MAX_BODY = 1024 * 1024
"""Largest declared body a direct route gets in memory; larger ones go the ASGI way."""
_NOT_DIRECT_HEADERS = frozenset(
    {b"transfer-encoding", b"x-forwarded-for", b"x-forwarded-proto", b"forwarded"}
)


@dataclass(slots=True)
class DirectRequest:
    """A request to a direct route, its body read whole."""

    url: bytes
    """The request target as sent (path and query)."""
    headers: list[tuple[bytes, bytes]]
    """Names lower-cased, in order, as in an ASGI scope."""
    client: tuple[str, int] | None
    body: bytes


@dataclass(slots=True)
class DirectResponse:
    """What a direct route answers; the protocol adds Content-Length (or chunks) itself."""

    status: int
    headers: list[tuple[bytes, bytes]]
    """Lower-case names; never content-length, transfer-encoding or connection."""
    body: bytes | list[bytes]
    """A list is sent chunked, each item one chunk (an event stream)."""


DirectHandler = Callable[[DirectRequest], Awaitable[DirectResponse]]

INTERNAL_ERROR = DirectResponse(
    500, [(b"content-type", b"application/json")], b'{"error":"internal error"}'
)


class DirectRouter(Protocol):
    """An app some of whose routes the protocol answers itself."""

    def direct_handler(self, method: bytes, url: bytes) -> DirectHandler | None:
        """The handler of ``method url`` when the route is direct, else None."""


def frame_response(
    response: DirectResponse, default_headers: list[tuple[bytes, bytes]], keep_alive: bool
) -> bytes:
    """The response on the wire: status line, headers, framed body (ValueError if unsafe)."""
    parts = [STATUS_LINE[response.status]]
    for name, value in default_headers:
        parts += (name, b": ", value, b"\r\n")
    headers = response.headers
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    head = b"".join(parts)
    lines = 1 + len(default_headers) + len(headers)
    if head.count(b"\n") != lines or head.count(b"\r") != lines:
        raise ValueError("a response header holds a line break")
    body = response.body
    connection = b"" if keep_alive else b"connection: close\r\n"
    if isinstance(body, bytes):
        return b"%s%scontent-length: %d\r\n\r\n%s" % (head, connection, len(body), body)
    parts = [head, connection, b"transfer-encoding: chunked\r\n\r\n"]
    for chunk in body:
        if chunk:
            parts += (b"%x\r\n" % len(chunk), chunk, b"\r\n")
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


class _DirectExchange:
    """A direct request in flight, where uvicorn's protocol expects its cycle.

    uvicorn reads and sets ``response_complete``, ``disconnected`` and ``keep_alive`` on
    the current cycle (a request pipelined behind this one, a graceful shutdown, a
    dropped connection) and calls ``message_event.set()`` when the connection is lost:
    the exchange is its own ``message_event``, and a loss before the answer cancels the
    handler's task.
    """

    __slots__ = ("body", "disconnected", "handler", "keep_alive", "response_complete", "task")

    def __init__(self, handler: DirectHandler, keep_alive: bool) -> None:
        self.handler = handler
        self.keep_alive = keep_alive
        self.body = b""
        self.response_complete = False
        self.disconnected = False
        self.task: asyncio.Task[None] | None = None

    @property
    def message_event(self) -> _DirectExchange:
        return self

    def set(self) -> None:
        """The connection changed: cancel the handler if the client is gone."""
        task = self.task
        if self.disconnected and not self.response_complete and task is not None:
            task.cancel()


class _HeadHolder:
    """The transport as one response cycle sees it: the head waits for the body."""

    __slots__ = ("_head", "_loop", "_phase", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._phase = 0  # 0: nothing of the response written, 1: head held, 2: head sent
        self._head = b""

    def write(self, data: bytes) -> None:
        phase = self._phase
        if phase == 2 or (phase == 0 and data == CONTINUE):
            self._transport.write(data)
        elif phase == 0:  # the status line and headers: the cycle's first write
            self._head = data
            self._phase = 1
            self._loop.call_soon(self._flush)
        else:
            self._phase = 2
            head, self._head = self._head, b""
            self._transport.write(head + data)

    def _flush(self) -> None:
        if self._phase == 1:
            self._phase = 2
            head, self._head = self._head, b""
            self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol: each response's head sent with its body, the app's
    direct routes (:class:`DirectRouter`) answered without ASGI, one keep-alive timer."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        route = getattr(config.app, "direct_handler", None)
        plain = not (config.root_path or config.limit_concurrency or config.access_log)
        self._route: Callable[[bytes, bytes], DirectHandler | None] | None = (
            route if plain else None
        )
        self._receiving: _DirectExchange | None = None  # a direct request's body arriving
        self._idle_since: float | None = None  # when the last response ended; None: busy

    # -- requests: direct or ASGI ---------------------------------------------------

    def on_message_begin(self) -> None:
        # uvicorn's on_message_begin also builds the ASGI scope, which a direct request
        # never needs: that waits for on_headers_complete (_begin_asgi)
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self._receiving = None

    def _begin_asgi(self) -> None:
        """uvicorn's on_message_begin, late: the scope, around what was parsed since."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers

    def on_headers_complete(self) -> None:
        if self._route is not None:
            handler = self._direct_handler(self._route)
            if handler is not None:
                keep_alive = (
                    self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
                )
                exchange = _DirectExchange(handler, keep_alive)
                self.cycle = exchange  # type: ignore[assignment]  # what uvicorn needs of one
                self._receiving = exchange
                return
        self._begin_asgi()
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            cycle.transport = _HeadHolder(self.transport, self.loop)  # type: ignore[assignment]

    def _direct_handler(
        self, route: Callable[[bytes, bytes], DirectHandler | None]
    ) -> DirectHandler | None:
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            return None  # pipelined behind an unfinished response: uvicorn queues it
        if self.expect_100_continue or self.parser.should_upgrade():
            return None
        handler = route(self.parser.get_method(), self.url)
        if handler is None:
            return None
        length = b""
        for name, value in self.headers:
            if name == b"content-length":
                length = value
            elif name in _NOT_DIRECT_HEADERS:
                return None
        if not length.isdigit() or int(length) > DIRECT_MAX_BODY:
            return None
        return handler

    def on_body(self, body: bytes) -> None:
        exchange = self._receiving
        if exchange is None:
            super().on_body(body)
        else:
            exchange.body += body

    def on_message_complete(self) -> None:
        exchange = self._receiving
        if exchange is None:
            super().on_message_complete()
            return
        self._receiving = None
        request = DirectRequest(self.url, self.headers, self.client, exchange.body)
        task = self.loop.create_task(self._serve_direct(exchange, request))
        exchange.task = task
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _serve_direct(self, exchange: _DirectExchange, request: DirectRequest) -> None:
        try:
            response = await exchange.handler(request)
            data = frame_response(response, self.server_state.default_headers, exchange.keep_alive)
        except asyncio.CancelledError:
            if exchange.disconnected:
                return  # the client left (set() cancelled us): nobody to answer
            self.transport.close()  # no answer will come: do not leave the client waiting
            raise
        except Exception as exc:  # nothing was written yet: answer 500, keep the connection
            self.logger.error("Exception in direct route %r", request.url, exc_info=exc)
            data = frame_response(INTERNAL_ERROR, self.server_state.default_headers, True)
        finally:
            exchange.task = None
        exchange.response_complete = True
        if exchange.disconnected or self.transport.is_closing():
            return  # nobody to answer
        self.transport.write(data)
        if not exchange.keep_alive:
            self.transport.close()
        self.on_response_complete()

    # -- keep-alive: one timer per connection ---------------------------------------

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn: cancel the keep-alive timer (on every read); here: mark busy only
        self._idle_since = None

    def on_response_complete(self) -> None:
        # uvicorn's, arming the keep-alive timer only when none is pending
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle_since = None
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        idle_since = self._idle_since
        if idle_since is None or self.transport.is_closing():
            return  # busy: the next response re-arms
        left = idle_since + self.timeout_keep_alive - self.loop.time()
        if left <= 0:
            self.transport.close()
        else:
            self.timeout_keep_alive_task = self.loop.call_later(
                left, self.timeout_keep_alive_handler
            )

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        timer, self.timeout_keep_alive_task = self.timeout_keep_alive_task, None
        if timer is not None:
            timer.cancel()


class CoordinatorServer(uvicorn.Server):
    """uvicorn, freezing what startup made out of the garbage collector's way.

    After the app's startup (imports, the database engine, settings, routes: some 200,000
    objects) ``gc.freeze()`` moves everything alive into the permanent generation, so the
    collections that requests' garbage triggers no longer walk it: the collector's share
    of a gateway request fell from about 6 to 2 µs (``bench/gateway_overhead.py``'s
    load, in process).
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        gc.freeze()


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for the coordinator app (``options``: host, port, ...)."""
    return uvicorn.Config(
        app,
        loop="auto",  # uvloop wherever it is installed (uvicorn[standard] brings it)
        http=CoalescingHttpProtocol,
        access_log=False,
        server_header=False,  # no "server: uvicorn" (saves a header check per response)
        log_config=None,
        **options,
    )
