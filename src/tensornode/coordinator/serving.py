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
"""

from __future__ import annotations

import asyncio
import gc
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


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
    """uvicorn's httptools protocol, sending each response's head with its body."""

    def on_headers_complete(self) -> None:
        before = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle is not before:
            cycle.transport = _HeadHolder(self.transport, self.loop)  # type: ignore[assignment]


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
