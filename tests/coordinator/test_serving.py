"""The coordinator's HTTP protocol (coordinator/serving.py) over real sockets: direct
routes answered without ASGI, the ASGI way for everything else, the keep-alive timer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from loopback import ThreadedServer
from tensornode.coordinator.serving import (
    DirectHandler,
    DirectRequest,
    DirectResponse,
    frame_response,
)


class App:
    """An ASGI app (answers ``x-path: asgi``) with direct routes under ``/direct``."""

    def __init__(self) -> None:
        self.seen: list[DirectRequest] = []
        self.cancelled = asyncio.Event()
        self.started = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        answer = b"asgi %s %s" % (scope["path"].encode(), body)
        headers = [(b"x-path", b"asgi"), (b"content-length", b"%d" % len(answer))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def direct_handler(self, method: bytes, url: bytes) -> DirectHandler | None:
        if method != b"POST" or not url.startswith(b"/direct"):
            return None
        return {
            b"/direct": self.echo,
            b"/direct/hang": self.hang,
            b"/direct/boom": self.boom,
            b"/direct/bad-header": self.bad_header,
            b"/direct/stream": self.stream,
        }.get(url)

    async def echo(self, request: DirectRequest) -> DirectResponse:
        self.seen.append(request)
        return DirectResponse(200, [(b"x-path", b"direct")], b"direct " + request.body)

    async def hang(self, request: DirectRequest) -> DirectResponse:
        self.started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        raise AssertionError("not reached")

    async def boom(self, request: DirectRequest) -> DirectResponse:
        raise RuntimeError("boom")

    async def bad_header(self, request: DirectRequest) -> DirectResponse:
        return DirectResponse(200, [(b"x-evil", b"a\r\nset-cookie: x=1")], b"")

    async def stream(self, request: DirectRequest) -> DirectResponse:
        return DirectResponse(200, [(b"content-type", b"text/event-stream")], [b"a", b"", b"bc"])


@contextmanager
def serving(app: App, **options: Any) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app, lifespan="off", **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def connect(server: ThreadedServer) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def post(path: str, body: bytes, *extra: str, version: str = "1.1") -> bytes:
    head = [f"POST {path} HTTP/{version}", "Host: test", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


Response = tuple[int, dict[str, str], bytes]


def read_responses(conn: socket.socket, count: int) -> list[Response]:
    """``count`` responses in a row (pipelined answers may arrive in one read): status,
    headers (lower-case names), body (de-chunked). No byte may follow the last one."""
    buffer, answers = b"", []
    while len(answers) < count:
        parsed = _parse_response(buffer)
        if parsed is None:
            chunk = conn.recv(65536)
            assert chunk, f"connection closed before a whole response: {buffer!r}"
            buffer += chunk
            continue
        answer, buffer = parsed
        answers.append(answer)
    assert buffer == b"", f"more bytes than {count} response(s): {buffer!r}"
    return answers


def read_response(conn: socket.socket) -> Response:
    """One response, and nothing after it."""
    return read_responses(conn, 1)[0]


def _parse_response(data: bytes) -> tuple[Response, bytes] | None:
    """The first whole response in ``data`` and the bytes after it, or None if incomplete."""
    head, found, rest = data.partition(b"\r\n\r\n")
    if not found:
        return None
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        length = int(headers["content-length"])
        if len(rest) < length:
            return None
        return (status, headers, rest[:length]), rest[length:]
    assert headers.get("transfer-encoding") == "chunked", headers
    body, pos = b"", 0
    while True:
        end = rest.find(b"\r\n", pos)
        if end < 0:
            return None
        size = int(rest[pos:end], 16)
        if len(rest) < end + 2 + size + 2:
            return None
        if size == 0:
            return (status, headers, body), rest[end + 4 :]
        body += rest[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def closed(conn: socket.socket, wait_s: float = 5.0) -> bool:
    """The server closed the connection (EOF) within ``wait_s``."""
    conn.settimeout(wait_s)
    try:
        return conn.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture
def app() -> App:
    return App()


@pytest.fixture
def server(app: App) -> Iterator[ThreadedServer]:
    with serving(app) as running:
        yield running


def test_a_direct_route_is_answered_in_one_framed_response(
    app: App, server: ThreadedServer
) -> None:
    with connect(server) as conn:
        conn.sendall(post("/direct", b"hello", "Authorization: Bearer x"))
        status, headers, body = read_response(conn)
        assert (status, headers["x-path"], body) == (200, "direct", b"direct hello")
        assert headers["content-length"] == "12" and "date" in headers
        assert "connection" not in headers  # kept alive
        conn.sendall(post("/direct", b"again"))  # same connection
        assert read_response(conn)[2] == b"direct again"
    request = app.seen[0]
    assert request.url == b"/direct" and request.body == b"hello"
    assert (b"authorization", b"Bearer x") in request.headers
    assert request.client is not None and request.client[0] == "127.0.0.1"


def test_other_routes_and_requests_the_direct_way_could_get_wrong_go_through_asgi(
    app: App, server: ThreadedServer
) -> None:
    cases = [
        post("/elsewhere", b"x"),
        b"GET /direct HTTP/1.1\r\nHost: t\r\n\r\n",
        post("/direct", b"x", "X-Forwarded-For: 203.0.113.9"),  # uvicorn decides the client
        b"POST /direct HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"1\r\nx\r\n0\r\n\r\n",
    ]
    with connect(server) as conn:
        for raw in cases:
            conn.sendall(raw)
            status, headers, _ = read_response(conn)
            assert (status, headers["x-path"]) == (200, "asgi"), raw
        head, _, body = post("/direct", b"x", "Expect: 100-continue").partition(b"\r\n\r\n")
        conn.sendall(head + b"\r\n\r\n")
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            interim += conn.recv(1)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(body)
        status, headers, answer = read_response(conn)
        assert (status, headers["x-path"], answer) == (200, "asgi", b"asgi /direct x")
    assert app.seen == []


def test_pipelined_requests_are_answered_in_order_whichever_way_they_go(
    server: ThreadedServer,
) -> None:
    with connect(server) as conn:
        conn.sendall(post("/direct", b"1") + post("/asgi", b"2") + post("/direct", b"3"))
        answers = [body for _, _, body in read_responses(conn, 3)]
    # in order; the third arrived behind an unfinished answer, so uvicorn queued it
    assert answers == [b"direct 1", b"asgi /asgi 2", b"asgi /direct 3"]


def test_http_1_0_and_connection_close_end_the_connection(server: ThreadedServer) -> None:
    for raw in (post("/direct", b"a", version="1.0"), post("/direct", b"b", "Connection: close")):
        with connect(server) as conn:
            conn.sendall(raw)
            status, headers, _ = read_response(conn)
            assert status == 200 and headers["connection"] == "close"
            assert closed(conn)


def test_a_client_that_disconnects_cancels_the_handler(app: App, server: ThreadedServer) -> None:
    with connect(server) as conn:
        conn.sendall(post("/direct/hang", b"x"))
        deadline = time.monotonic() + 10
        while not app.started.is_set():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    deadline = time.monotonic() + 10
    while not app.cancelled.is_set():
        assert time.monotonic() < deadline, "the handler was not cancelled"
        time.sleep(0.01)


def test_a_failing_handler_gets_a_500_and_the_connection_stays_usable(
    server: ThreadedServer,
) -> None:
    with connect(server) as conn:
        conn.sendall(post("/direct/boom", b""))
        status, headers, body = read_response(conn)
        assert (status, body) == (500, b'{"error":"internal error"}')
        assert headers["content-type"] == "application/json"
        conn.sendall(post("/direct/bad-header", b""))  # header injection is refused
        status, headers, _ = read_response(conn)
        assert status == 500 and "set-cookie" not in headers
        conn.sendall(post("/direct", b"ok"))
        assert read_response(conn)[2] == b"direct ok"


def test_a_list_body_is_sent_chunked(server: ThreadedServer) -> None:
    with connect(server) as conn:
        conn.sendall(post("/direct/stream", b""))
        status, headers, body = read_response(conn)
    assert (status, headers["transfer-encoding"], body) == (200, "chunked", b"abc")


def test_idle_connections_close_after_the_keep_alive_timeout_busy_ones_stay_open() -> None:
    with (
        serving(App(), timeout_keep_alive=1) as server,
        connect(server) as idle,
        connect(server) as busy,
    ):
        idle.sendall(post("/direct", b"i"))
        read_response(idle)
        started = time.monotonic()
        for n in range(12):  # 1.8 s of requests, never 1 s apart
            busy.sendall(post("/direct" if n % 2 else "/asgi", b"b"))
            read_response(busy)
            time.sleep(0.15)
        assert closed(idle, wait_s=0.1)  # closed about 1 s after its last answer
        assert time.monotonic() - started > 1.0
        busy.sendall(post("/direct", b"still"))
        assert read_response(busy)[2] == b"direct still"
        assert closed(busy, wait_s=5.0)  # and it too, once idle


def test_frame_response_frames_bodies_and_refuses_line_breaks() -> None:
    date = [(b"date", b"Wed, 25 Nov 2026 12:00:00 GMT")]
    plain = frame_response(DirectResponse(201, [(b"x-a", b"1")], b"hi"), date, True)
    assert plain == (
        b"HTTP/1.1 201 Created\r\ndate: Wed, 25 Nov 2026 12:00:00 GMT\r\nx-a: 1\r\n"
        b"content-length: 2\r\n\r\nhi"
    )
    closing = frame_response(DirectResponse(200, [], [b"ab", b"", b"c"]), [], False)
    assert closing == (
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n1\r\nc\r\n0\r\n\r\n"
    )
    for evil in (b"a\r\nb", b"a\nb", b"a\rb"):
        with pytest.raises(ValueError, match="line break"):
            frame_response(DirectResponse(200, [(b"x", evil)], b""), [], True)
