"""A deadline on each request head: connections that trickle a request in are closed.

uvicorn closes a keep-alive connection that stays idle after a response, but not one that
never finishes a request head: a client that opens connections and sends a byte every
few seconds (slowloris) holds each one for ever, and enough of them exhaust the
coordinator's file descriptors. uvicorn has no option for it, so :func:`protocol_class`
wraps the HTTP protocol uvicorn would use (by composition, through uvicorn's documented
``http`` setting: an ``asyncio.Protocol`` class built as uvicorn builds its own) and
gives every request head ``timeout_s`` to arrive, from the connection's start or, on a
kept-alive connection, from the first byte of the next request:

- *awaiting a head*: bytes are scanned for the blank line that ends a head; if it has
  not come when the deadline passes, the client gets ``408`` and the connection closes;
- *in a request*: from the end of the head until the server has written its answer and
  the client sends again (a body is read under the app's own ``body_timeout_s``; a
  response may stream for as long as it takes).

Nothing else changes: every byte and call goes to the wrapped protocol as it came.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string

_HEAD_ENDS = (b"\r\n\r\n", b"\n\n")
_TAIL = 3  # bytes kept from the previous chunk: a head's end may straddle two
_CONTINUE = b"HTTP/1.1 100 "


def _refusal(timeout_s: float) -> bytes:
    body = b'{"error": "request head not received within %g s"}' % timeout_s
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
    )


class _WatchedTransport:
    """The transport as the wrapped protocol sees it: the first write after a head marks
    the answer begun. Every other call is the real transport's own bound method (set on
    the instance, so the hot path has no extra frame), and so are writes once marked."""

    _DIRECT = (
        "is_closing", "close", "abort", "get_extra_info", "pause_reading", "resume_reading",
        "get_write_buffer_size", "set_write_buffer_limits", "can_write_eof", "write_eof",
    )  # fmt: skip

    def __init__(self, transport: Any, watch: _HeadWatch) -> None:
        self._transport = transport
        self._watch = watch
        for name in self._DIRECT:
            if hasattr(transport, name):
                setattr(self, name, getattr(transport, name))
        self.expect_answer()

    def expect_answer(self) -> None:
        """A head has ended: the next write (other than an interim 100) is the answer."""
        self.write = self._first_write

    def _first_write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data[:13]) != _CONTINUE:  # an interim 100 is no answer: the body follows
            self._watch.answered = True
            self.write = self._transport.write
        self._transport.write(data)

    def writelines(self, lines: Any) -> None:
        self._watch.answered = True
        self._transport.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _HeadWatch:
    """Per-connection state of the deadline (see the module docstring)."""

    __slots__ = ("answered", "awaiting", "tail", "timer")

    def __init__(self) -> None:
        self.awaiting = True  # a head is due
        self.answered = False  # the server wrote since the last head ended
        self.tail = b""
        self.timer: asyncio.TimerHandle | None = None


def protocol_class(http: str, timeout_s: float) -> type[asyncio.Protocol]:
    """An ``asyncio.Protocol`` class for uvicorn's ``http`` setting: uvicorn's ``http``
    implementation (``h11``, ``httptools``, ``auto``) under a ``timeout_s`` head deadline."""
    inner_class: Any = import_from_string(HTTP_PROTOCOLS[http])
    refusal = _refusal(timeout_s)

    class HeadDeadlineProtocol(asyncio.Protocol):
        def __init__(
            self,
            config: Any,
            server_state: Any,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            self._inner = inner_class(
                config=config, server_state=server_state, app_state=app_state, _loop=_loop
            )
            self._loop = _loop or asyncio.get_running_loop()
            self._watch = _HeadWatch()
            self._transport: Any = None
            self._watched: _WatchedTransport | None = None

        def connection_made(self, transport: Any) -> None:  # asyncio's, or uvloop's
            self._transport = transport
            self._arm()
            self._watched = _WatchedTransport(transport, self._watch)
            self._inner.connection_made(self._watched)

        def data_received(self, data: bytes) -> None:
            watch = self._watch
            if not watch.awaiting and watch.answered:  # the next request begins
                watch.awaiting, watch.answered, watch.tail = True, False, b""
                self._arm()
            if watch.awaiting:
                seen = watch.tail + data
                if any(end in seen for end in _HEAD_ENDS):
                    watch.awaiting = False
                    self._disarm()
                    if self._watched is not None:
                        self._watched.expect_answer()
                else:
                    watch.tail = seen[-_TAIL:]
            self._inner.data_received(data)

        def eof_received(self) -> bool | None:
            result: bool | None = self._inner.eof_received()
            return result

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            self._inner.connection_lost(exc)

        def pause_writing(self) -> None:
            self._inner.pause_writing()

        def resume_writing(self) -> None:
            self._inner.resume_writing()

        def _arm(self) -> None:
            self._disarm()
            self._watch.timer = self._loop.call_later(timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._watch.timer is not None:
                self._watch.timer.cancel()
                self._watch.timer = None

        def _expired(self) -> None:
            self._watch.timer = None
            transport = self._transport
            if transport is None or transport.is_closing() or not self._watch.awaiting:
                return
            transport.write(refusal)
            transport.close()

    HeadDeadlineProtocol.__qualname__ = f"HeadDeadline[{http}]"
    return HeadDeadlineProtocol
