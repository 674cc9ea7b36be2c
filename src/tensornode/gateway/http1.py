"""A lean HTTP/1.1 client for miners on plain ``http://``: keep-alive pools, httptools.

httpx spends about a millisecond of CPU per request and its pool serialises under
concurrency (``bench/gateway_overhead.py`` measured ~340 requests/s at 32 concurrent on
loopback); this client does only what the gateway needs: one request per connection at
a time, connections reused per ``host:port`` (last in, first out), the response parsed
by httptools (uvicorn's parser, chunked bodies included). A timed-out or cancelled
request closes its connection, so the miner sees the user's disconnect. A request on a
reused connection that dies before any byte of an answer (the miner closed an idle
keep-alive connection just then) is sent once more on a new connection.

Timeouts are coarse, to keep timers off the hot path: a timer armed and cancelled per
request cost about as much CPU as the rest of the client (~3 µs under uvloop). Instead
each pool keeps its in-flight exchanges with their deadlines (loop time) in a dict, and
one shared timer sweeps it every ``SWEEP_S`` seconds, failing the exchanges past their
deadline. So a timeout fires up to ``SWEEP_S`` late (plus the event loop's own lag). The
sweep runs only while something is in flight: it re-arms itself while exchanges remain,
and stops at the first tick that finds none (so it outlives the last one by at most
``SWEEP_S``). Connecting keeps a plain ``asyncio.timeout_at``: with keep-alive it is rare.

:meth:`Http1Pool.stream` sends a request and returns once the answer's head arrived: an
:class:`Http1Stream` whose :meth:`~Http1Stream.read` gives the body's bytes as they come
(server-sent events from a streaming miner), each read within an idle timeout. A stream
read to its end returns its connection to the pool; one closed early closes it, so the
miner sees the client leave.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from tensornode.gateway.failover import AttemptFailed

MAX_IDLE_PER_HOST = 512
SWEEP_S = 0.05
"""How often the pool looks for exchanges past their deadline: timeouts fire up to this late."""

_Answer = tuple[int, bytes]


class _Closed(Exception):
    """The connection closed before the answer; ``started``: some of it had arrived."""

    def __init__(self, started: bool) -> None:
        super().__init__("connection closed")
        self.started = started


class _Connection(asyncio.Protocol):
    """One connection; ``send`` writes a request, its future gets (status, body)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop  # kept, so a request on a reused connection never looks it up
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.limit = 0
        self.waiter: asyncio.Future[_Answer] | None = None
        self.closed = False
        self.started = False
        self.keep_alive = True
        self.headers_done = False
        self.framed = False  # Content-Length or chunked; else the body ends at EOF
        self.streaming = False  # the waiter gets the head; the body goes to ``chunks``
        self.chunks: deque[bytes] = deque()
        self.complete = False
        self.content_type = b""

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(AttemptFailed(f"malformed HTTP answer: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.headers_done and not self.framed and exc is None:
            self.keep_alive = False  # an HTTP/1.0-style answer: its body ended with the connection
            self.on_message_complete()
            return
        self._fail(_Closed(self.started))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered in (b"content-length", b"transfer-encoding"):
            self.framed = True
        elif lowered == b"content-type":
            self.content_type = value

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.streaming:
            self._wake((self.parser.get_status_code(), b""))

    def on_body(self, body: bytes) -> None:
        if self.streaming:
            self.limit -= len(body)
            self.chunks.append(body)
            self._wake((0, b""))
        else:
            self.body += body
        if self.limit < 0 or len(self.body) > self.limit:
            self._fail(AttemptFailed("answer is too large"))
            self.close()

    def on_message_complete(self) -> None:
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        if self.streaming:
            self.complete = True
            self._wake((0, b""))
        elif self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), bytes(self.body)))

    def _wake(self, value: _Answer) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(value)

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def send(
        self, request: bytes, limit: int, *, streaming: bool = False
    ) -> asyncio.Future[_Answer]:
        """Write ``request``; the future gets (status, body), _Closed or AttemptFailed
        (``streaming``: (status, b"") once the head is in; the body goes to ``chunks``)."""
        assert self.transport is not None
        self.body = bytearray()
        self.limit = limit
        self.started = False
        self.headers_done = False
        self.framed = False
        self.streaming = streaming
        self.complete = False
        self.chunks.clear()
        self.content_type = b""
        waiter: asyncio.Future[_Answer] = self.loop.create_future()
        self.waiter = waiter
        self.transport.write(request)
        return waiter

    def expire(self) -> None:
        """Fail the exchange in progress with TimeoutError (its deadline has passed)."""
        self._fail(TimeoutError())

    def next_chunk(self) -> asyncio.Future[_Answer] | None:
        """A future to await for more of a streamed body; None when some is here or the
        body is complete."""
        if self.chunks or self.complete:
            return None
        if self.closed:
            raise _Closed(True)
        waiter: asyncio.Future[_Answer] = self.loop.create_future()
        self.waiter = waiter
        return waiter


@dataclass(frozen=True)
class _Target:
    host: str
    port: int
    path: str
    host_header: bytes

    def head(self, method: str) -> bytes:
        """The request line and fixed headers (a body's Content-Length comes after)."""
        return b"%s %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n" % (
            method.encode(),
            self.path.encode(),
            self.host_header,
        )


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not a plain http URL: {url}")
    port = parts.port or 80
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return _Target(parts.hostname, port, path, netloc.encode("ascii"))


class Http1Pool:
    """Keep-alive connections per ``host:port``, for plain http URLs only."""

    def __init__(self, *, max_answer_bytes: int) -> None:
        self.max_answer_bytes = max_answer_bytes
        self._idle: dict[tuple[str, int], deque[_Connection]] = {}
        self._targets: dict[tuple[str, str], tuple[_Target, bytes]] = {}
        self._inflight: dict[_Connection, float] = {}  # exchange -> deadline (loop time)
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_loop: asyncio.AbstractEventLoop | None = None  # None: no sweep armed

    def _resolve(self, method: str, url: str) -> tuple[_Target, bytes]:
        """Where ``url`` is, and the head of a ``method`` request to it (both cached)."""
        found = self._targets.get((method, url))
        if found is None:
            target = _target(url)
            head = target.head(method)
            if len(self._targets) > 10_000:
                self._targets.clear()
            found = self._targets[(method, url)] = (target, head)
        return found

    async def _connect(self, target: _Target, loop: asyncio.AbstractEventLoop) -> _Connection:
        try:
            _, conn = await loop.create_connection(
                lambda: _Connection(loop), target.host, target.port
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise AttemptFailed(f"cannot connect to {target.host}:{target.port}: {reason}") from exc
        return conn

    def _take_idle(self, key: tuple[str, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def request(
        self, method: str, url: str, body: bytes | None, *, timeout: float, extra: bytes = b""
    ) -> _Answer:
        """Send one request; (status, body) or AttemptFailed (timeout=True on timeouts).

        ``extra``: header lines (each ending in CRLF) after the fixed ones. The timeout
        fires up to ``SWEEP_S`` late (see the module docstring).
        """
        target, head = self._resolve(method, url)
        if body is not None:
            raw = b"%s%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
                head,
                extra,
                len(body),
                body,
            )
        else:
            raw = head + b"\r\n"
        key = (target.host, target.port)
        conn = self._take_idle(key)
        loop = conn.loop if conn is not None else asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            if conn is not None:  # the usual case: a kept-alive connection, no timer of its own
                try:
                    return self._done(key, conn, await self._send(conn, raw, deadline))
                except _Closed as closed:
                    if closed.started:
                        raise
                finally:
                    self._inflight.pop(conn, None)
                conn = None
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(target, loop)
            try:
                return self._done(key, conn, await self._send(conn, raw, deadline))
            finally:
                self._inflight.pop(conn, None)
        except TimeoutError:
            if conn is not None:
                conn.close()
            raise AttemptFailed(f"no answer within {timeout:g}s", timeout=True) from None
        except _Closed:
            raise AttemptFailed("the miner closed the connection before answering") from None
        except BaseException:  # cancelled (the user left) or failed: never reuse it
            if conn is not None:
                conn.close()
            raise

    async def stream(
        self,
        method: str,
        url: str,
        body: bytes,
        *,
        timeout: float,
        idle_timeout: float,
        extra: bytes = b"",
    ) -> Http1Stream:
        """Send one request; once the answer's head is in (within ``timeout``), its
        :class:`Http1Stream` (each later read within ``idle_timeout``). AttemptFailed
        (``timeout=True`` on timeouts) when no head arrives. ``extra``: header lines."""
        target, head = self._resolve(method, url)
        raw = b"%s%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            head,
            extra,
            len(body),
            body,
        )
        key = (target.host, target.port)
        conn = self._take_idle(key)
        loop = conn.loop if conn is not None else asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            if conn is not None:
                try:
                    status, _ = await self._send(conn, raw, deadline, streaming=True)
                    return Http1Stream(self, key, conn, status, idle_timeout)
                except _Closed as closed:
                    self._inflight.pop(conn, None)
                    if closed.started:
                        raise
                conn = None
            async with asyncio.timeout_at(deadline):
                conn = await self._connect(target, loop)
            status, _ = await self._send(conn, raw, deadline, streaming=True)
            return Http1Stream(self, key, conn, status, idle_timeout)
        except TimeoutError:
            self._abandon(conn)
            raise AttemptFailed(f"no answer within {timeout:g}s", timeout=True) from None
        except _Closed:
            self._abandon(conn)
            raise AttemptFailed("the miner closed the connection before answering") from None
        except BaseException:  # cancelled (the user left) or failed: never reuse it
            self._abandon(conn)
            raise

    def _abandon(self, conn: _Connection | None) -> None:
        if conn is not None:
            self._inflight.pop(conn, None)
            conn.close()

    def _send(
        self, conn: _Connection, raw: bytes, deadline: float, *, streaming: bool = False
    ) -> asyncio.Future[_Answer]:
        """Send ``raw`` on ``conn``, in flight until ``deadline`` (the caller removes it
        from ``_inflight`` when done): the future gets (status, body), _Closed,
        AttemptFailed, or TimeoutError from the sweep."""
        waiter = conn.send(raw, self.max_answer_bytes, streaming=streaming)
        self._inflight[conn] = deadline
        if self._sweep_loop is not conn.loop:  # none armed (or left on a loop now gone)
            self._arm(conn.loop)
        return waiter

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        self._sweep_loop = loop
        self._sweeper = loop.call_later(SWEEP_S, self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fail the exchanges past their deadline; go on only while some remain."""
        now = loop.time()
        inflight = self._inflight
        for conn in [conn for conn, deadline in inflight.items() if deadline <= now]:
            del inflight[conn]
            conn.expire()  # its request closes the connection and reports the timeout
        if inflight:
            self._sweeper = loop.call_later(SWEEP_S, self._sweep, loop)
        else:
            self._sweeper = self._sweep_loop = None

    def _done(self, key: tuple[str, int], conn: _Connection, answer: _Answer) -> _Answer:
        if conn.keep_alive and not conn.closed:
            idle = self._idle.setdefault(key, deque())
            if len(idle) < MAX_IDLE_PER_HOST:
                idle.append(conn)
                return answer
        conn.close()
        return answer

    def close(self) -> None:
        """Close the idle connections, and stop the sweep if nothing is in flight.

        Requests still in flight keep their connections and their deadlines: the sweep
        goes on for them and stops after the last.
        """
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()
        if not self._inflight and self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = self._sweep_loop = None


class Http1Stream:
    """A streamed answer's body on one pooled connection (see :meth:`Http1Pool.stream`)."""

    def __init__(
        self,
        pool: Http1Pool,
        key: tuple[str, int],
        conn: _Connection,
        status: int,
        idle_timeout: float,
    ) -> None:
        self.status = status
        self.content_type = conn.content_type.decode("latin-1").lower()
        self._pool = pool
        self._key = key
        self._conn: _Connection | None = conn
        self._idle_timeout = idle_timeout
        pool._inflight.pop(conn, None)

    async def read(self) -> bytes:
        """The next bytes of the body as they arrive; b"" at its end. AttemptFailed when
        the connection breaks or nothing arrives within the idle timeout."""
        conn = self._conn
        if conn is None:
            return b""
        try:
            waiter = conn.next_chunk()
            if waiter is not None:
                self._pool._inflight[conn] = conn.loop.time() + self._idle_timeout
                if self._pool._sweep_loop is not conn.loop:
                    self._pool._arm(conn.loop)
                try:
                    await waiter
                finally:
                    self._pool._inflight.pop(conn, None)
        except TimeoutError:
            self.close()
            raise AttemptFailed(
                f"the answer stalled for {self._idle_timeout:g}s", timeout=True
            ) from None
        except _Closed:
            self.close()
            raise AttemptFailed("the miner closed the connection mid-answer") from None
        except BaseException:
            self.close()
            raise
        if conn.chunks:
            data = b"".join(conn.chunks)
            conn.chunks.clear()
            return data
        self._finish(conn)
        return b""

    def _finish(self, conn: _Connection) -> None:
        """The body is complete: the connection goes back to the pool."""
        self._conn = None
        conn.streaming = False
        self._pool._done(self._key, conn, (self.status, b""))

    def close(self) -> None:
        """Abandon the answer (its connection is closed, so the miner sees it); idempotent."""
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool._inflight.pop(conn, None)
            conn.close()
