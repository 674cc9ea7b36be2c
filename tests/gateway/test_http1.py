"""The lean upstream client against raw servers on loopback: framing, reuse, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from factories import free_port
from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.http1 import SWEEP_S, Http1Pool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A TCP server on loopback; yields its URL and a list counting connections."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()
        await server.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return await reader.readexactly(length)


async def test_keep_alive_reuse_and_chunked_answers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                body = await _read_request(reader)
            except asyncio.IncompleteReadError:
                return
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            )
            await writer.drain()

    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(handler) as (url, connections):
        for n in range(3):
            assert await pool.request("POST", url + "/api/chat", b"%d" % n, timeout=5) == (
                200,
                b"%d" % n,
            )
        assert len(connections) == 1
        pool.close()


async def test_an_unframed_http10_answer_ends_with_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"a": 1}')
        await writer.drain()

    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(handler) as (url, connections):
        assert await pool.request("GET", url + "/info", None, timeout=5) == (200, b'{"a": 1}')
        assert await pool.request("GET", url + "/info", None, timeout=5) == (200, b'{"a": 1}')
        assert len(connections) == 2  # not reused
        pool.close()


async def test_a_stale_keep_alive_connection_is_replaced_transparently() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)  # answers one request, then closes (idle timeout)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(handler) as (url, connections):
        assert await pool.request("POST", url + "/api/chat", b"{}", timeout=5) == (200, b"ok")
        await asyncio.sleep(0.05)  # the server has closed the idle connection
        assert await pool.request("POST", url + "/api/chat", b"{}", timeout=5) == (200, b"ok")
        assert len(connections) == 2
        pool.close()


def never_answering(hung_up: asyncio.Event) -> Handler:
    """A miner that reads a request and never answers; sets ``hung_up`` when we close."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()  # returns when the client hangs up
        hung_up.set()

    return handler


async def test_timeouts_close_the_connection_and_failures_are_ours() -> None:
    closed = asyncio.Event()
    pool = Http1Pool(max_answer_bytes=8)
    async with raw_server(never_answering(closed)) as (url, _):
        with pytest.raises(AttemptFailed) as slow:
            await pool.request("POST", url + "/api/chat", b"{}", timeout=0.2)
        assert slow.value.timeout
        await asyncio.wait_for(closed.wait(), 5)  # the miner saw the connection close
    with pytest.raises(AttemptFailed, match="cannot connect"):
        await pool.request("GET", f"http://127.0.0.1:{free_port()}/health", None, timeout=5)

    async def too_big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n" + b"x" * 20)
        await writer.drain()

    async with raw_server(too_big) as (url, _):
        with pytest.raises(AttemptFailed, match="too large"):
            await pool.request("POST", url + "/api/chat", b"{}", timeout=5)
    pool.close()


def _sweep_pending(pool: Http1Pool) -> bool:
    """Whether the pool holds a sweep timer, checked against the loop's own schedule."""
    loop = asyncio.get_running_loop()
    scheduled = [
        handle
        for handle in loop._scheduled  # type: ignore[attr-defined]
        if not handle.cancelled() and handle._callback == pool._sweep
    ]
    assert len(scheduled) == (pool._sweeper is not None)
    return pool._sweeper is not None


async def _echo_after_delay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep-alive; each body is a delay in seconds: answer it back after that long, or
    never when it is negative (until the client hangs up)."""
    while True:
        try:
            body = await _read_request(reader)
        except asyncio.IncompleteReadError:
            return
        delay = float(body)
        if delay < 0:
            await reader.read()
            return
        await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()


async def test_a_miner_that_never_answers_times_out_on_the_sweep() -> None:
    hung_up = asyncio.Event()
    pool = Http1Pool(max_answer_bytes=1024)
    loop = asyncio.get_running_loop()
    async with raw_server(never_answering(hung_up)) as (url, _):
        started = loop.time()
        with pytest.raises(AttemptFailed, match=r"^no answer within 0\.3s$") as slow:
            # a sweep that never fires would leave this to wait_for's TimeoutError instead
            await asyncio.wait_for(
                pool.request("POST", url + "/api/chat", b"{}", timeout=0.3), 0.3 + SWEEP_S + 0.5
            )
        assert slow.value.timeout
        assert loop.time() - started >= 0.3  # never early
        await asyncio.wait_for(hung_up.wait(), 5)  # its connection was closed
        assert pool._inflight == {}
    pool.close()


async def test_concurrent_requests_time_out_each_on_its_own_deadline() -> None:
    # (delay the miner takes, timeout): a negative delay is a miner that never answers
    cases = [(0.0, 5.0), (0.0, 2.0), (0.3, 5.0), (0.0, 3.0), (0.3, 4.0)] * 3
    slow = [(-1.0, 0.1), (-1.0, 0.25), (2.0, 0.2), (-1.0, 0.4), (3.0, 0.15)] * 2
    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(_echo_after_delay) as (url, _):
        requests = [
            pool.request("POST", url + "/api/chat", b"%g" % delay, timeout=timeout)
            for delay, timeout in cases + slow
        ]
        results = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 30)
        for (delay, _), result in zip(cases, results[: len(cases)], strict=True):
            assert result == (200, b"%g" % delay)
        for (_, timeout), result in zip(slow, results[len(cases) :], strict=True):
            assert isinstance(result, AttemptFailed)
            assert str(result) == f"no answer within {timeout:g}s"
            assert result.timeout
        assert pool._inflight == {}
        # the answered connections are kept for reuse, the timed-out ones are not
        assert sum(len(idle) for idle in pool._idle.values()) == len(cases)
        assert all(not conn.closed for idle in pool._idle.values() for conn in idle)
    pool.close()


async def test_the_sweep_stops_once_nothing_is_in_flight_and_close_cancels_it() -> None:
    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(_echo_after_delay) as (url, _):
        assert not _sweep_pending(pool)
        assert await pool.request("POST", url + "/api/chat", b"0", timeout=5) == (200, b"0")
        assert _sweep_pending(pool)  # it outlives the last exchange until its next tick
        await asyncio.sleep(SWEEP_S * 3)
        assert not _sweep_pending(pool)
        assert pool._sweep_loop is None

        with pytest.raises(AttemptFailed, match="no answer within"):
            await pool.request("POST", url + "/api/chat", b"-1", timeout=0.1)
        await asyncio.sleep(SWEEP_S * 3)
        assert not _sweep_pending(pool)

        assert await pool.request("POST", url + "/api/chat", b"0", timeout=5) == (200, b"0")
        assert _sweep_pending(pool)
        pool.close()
        assert not _sweep_pending(pool)


async def test_a_cancelled_request_leaves_nothing_in_flight_and_hangs_up() -> None:
    received = asyncio.Event()
    hung_up = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        received.set()
        await reader.read()  # the user leaves before any answer
        hung_up.set()

    pool = Http1Pool(max_answer_bytes=1024)
    async with raw_server(handler) as (url, _):
        request = asyncio.create_task(pool.request("POST", url + "/api/chat", b"{}", timeout=30))
        await asyncio.wait_for(received.wait(), 5)
        assert len(pool._inflight) == 1
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request
        assert pool._inflight == {}
        await asyncio.wait_for(hung_up.wait(), 5)  # the miner sees the disconnect
        await asyncio.sleep(SWEEP_S * 3)
        assert not _sweep_pending(pool)
    pool.close()


def test_a_sweep_left_on_a_closed_event_loop_does_not_disable_timeouts() -> None:
    pool = Http1Pool(max_answer_bytes=1024)

    async def answer_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    async def first_loop() -> None:
        async with raw_server(answer_and_close) as (url, _):
            assert await pool.request("GET", url + "/health", None, timeout=5) == (200, b"ok")
            assert pool._sweeper is not None  # still pending when this loop ends

    async def second_loop() -> None:
        async with raw_server(_echo_after_delay) as (url, _):
            with pytest.raises(AttemptFailed, match=r"^no answer within 0\.2s$"):
                await asyncio.wait_for(
                    pool.request("POST", url + "/api/chat", b"-1", timeout=0.2), 5
                )
        pool.close()

    asyncio.run(first_loop())
    asyncio.run(second_loop())
