"""The lean upstream client against raw servers on loopback: framing, reuse, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from factories import free_port
from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.http1 import Http1Pool

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


async def test_timeouts_close_the_connection_and_failures_are_ours() -> None:
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()  # never answers; returns when the client hangs up
        closed.set()

    pool = Http1Pool(max_answer_bytes=8)
    async with raw_server(handler) as (url, _):
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
