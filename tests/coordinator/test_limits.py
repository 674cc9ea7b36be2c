"""Request limits in front of every route (coordinator/limits.py): body size and time,
head size, JSON depth, and dev mode's loopback-only Host and Origin."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import make_settings
from loopback import ThreadedServer
from tensornode.coordinator.app import build_app
from tensornode.coordinator.limits import is_loopback_host, json_depth, server_options

from .conftest import client_for, running_app


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'limits.db'}", dev_mode=True)
    settings.coordinator.max_body_bytes = 64 * 1024
    settings.coordinator.body_timeout_s = 0.3
    async with running_app(settings) as app:
        yield app


async def _call(
    app: FastAPI,
    path: str,
    headers: dict[str, str],
    chunks: list[bytes] | None = None,
    *,
    finished: bool = True,
) -> tuple[int, dict[str, Any], int]:
    """Drive the app directly: (status, JSON body, body messages the app pulled)."""
    pulled = 0
    pending = list(chunks or [])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if not pending:
            await asyncio.sleep(3600)  # a client that never finishes its body
        pulled += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending) or not finished}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), pulled


async def test_a_declared_huge_body_is_refused_unread(guarded: FastAPI) -> None:
    headers = {"host": "127.0.0.1", "content-type": "application/json"}
    status, body, pulled = await _call(
        guarded, "/auth/challenge", {**headers, "content-length": str(150 * 1024 * 1024)}
    )
    assert (status, body, pulled) == (413, {"error": "request body larger than 65536 bytes"}, 0)


async def test_a_streamed_body_is_read_only_up_to_the_limit(guarded: FastAPI) -> None:
    headers = {"host": "127.0.0.1", "transfer-encoding": "chunked"}
    chunks = [b"x" * 16 * 1024] * 100  # 1.6 MB on offer
    status, body, pulled = await _call(guarded, "/auth/challenge", headers, chunks)
    assert (status, body) == (413, {"error": "request body larger than 65536 bytes"})
    assert pulled == 5  # the fifth chunk crossed the limit; nothing more was read


async def test_a_body_that_does_not_arrive_in_time_is_408(guarded: FastAPI) -> None:
    headers = {"host": "127.0.0.1", "content-length": "100", "content-type": "application/json"}
    status, body, _ = await _call(
        guarded, "/auth/challenge", headers, [b'{"accountId":'], finished=False
    )
    assert (status, body) == (408, {"error": "request body not received within 0.3 s"})


async def test_a_huge_head_is_431(guarded: FastAPI) -> None:
    async with client_for(guarded) as client:
        resp = await client.get("/health", headers={"X-Padding": "p" * 70_000})
    assert (resp.status_code, resp.json()) == (
        431,
        {"error": "request headers larger than 65536 bytes"},
    )


@pytest.mark.parametrize("path", ["/deploy", "/auth/challenge", "/miners", "/api/chat"])
async def test_deeply_nested_json_is_400_not_500(guarded: FastAPI, path: str) -> None:
    deep = b'{"walletAddress": "0.0.5", "prompt": "p", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    async with client_for(guarded) as client:
        resp = await client.post(path, content=deep, headers={"content-type": "application/json"})
    assert (resp.status_code, resp.json()) == (400, {"error": "JSON nested deeper than 32 levels"})


async def test_dev_mode_answers_loopback_hosts_and_origins_only(guarded: FastAPI) -> None:
    async with client_for(guarded) as client:
        assert (await client.get("/health", headers={"Host": "localhost:8000"})).status_code == 200
        assert (await client.get("/health", headers={"Host": "[::1]:8000"})).status_code == 200
        rebound = await client.get("/vms", headers={"Host": "attacker.example:8000"})
        assert (rebound.status_code, rebound.json()) == (
            403,
            {
                "error": "dev mode answers requests addressed to loopback only,"
                " not Host 'attacker.example:8000'"
            },
        )
        foreign = await client.post(
            "/deploy", json={"walletAddress": "0.0.5"}, headers={"Origin": "https://evil.example"}
        )
        assert (foreign.status_code, foreign.json()) == (
            403,
            {"error": "dev mode refuses cross-site requests from 'https://evil.example'"},
        )


async def test_outside_dev_mode_any_host_is_served(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", dev_mode=False)
    async with running_app(settings) as app, client_for(app) as client:
        resp = await client.get("/health", headers={"Host": "coordinator.example.org"})
        assert resp.status_code == 200


def test_json_depth_skips_brackets_inside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [[1], {"c": "\\"]"}]}') == 3
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0
    assert is_loopback_host("127.0.0.2:80") and not is_loopback_host("127.0.0.1.nip.io")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None, database=None)
@given(value=_json)
def test_json_depth_is_the_nesting_of_any_json(value: object) -> None:
    assert json_depth(json.dumps(value).encode()) == _depth(value)


def test_a_huge_request_head_is_cut_off_while_it_is_read(tmp_path: Path) -> None:
    """Outside dev mode the coordinator serves with h11, which stops reading a head past
    max_header_bytes (httptools would buffer megabytes of it first)."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", dev_mode=False)
    options = server_options(settings)
    assert options["http"].__qualname__ == "HeadDeadline[h11]"
    server = ThreadedServer(build_app(settings), **options)
    server.start()
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: coord.test\r\nX-Padding: ")
            try:
                while sent < 8 * 1024 * 1024:
                    sock.sendall(b"p" * 65536)
                    sent += 65536
                sock.sendall(b"\r\n\r\n")
                answer = sock.recv(200)
            except ConnectionError:
                answer = b""
    finally:
        server.stop()
    assert not answer.startswith(b"HTTP/1.1 200")
    assert sent < 8 * 1024 * 1024 or answer.startswith(b"HTTP/1.1 4")


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing ``sock`` within ``seconds``; None if still open."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    return received


@pytest.mark.parametrize("parser", ["h11", "httptools"])
def test_a_request_head_trickled_in_is_cut_off_at_the_deadline(tmp_path: Path, parser: str) -> None:
    """Slowloris: a connection that sends nothing, or a head a byte at a time, is closed
    with 408 once ``header_timeout_s`` has passed; whole requests on the same server and
    a kept-alive connection's next request are served as usual."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 's.db'}", dev_mode=True)
    coordinator = settings.coordinator.model_copy(
        update={"header_timeout_s": 0.5, "http_parser": parser}
    )
    settings = settings.model_copy(update={"coordinator": coordinator})
    server = ThreadedServer(build_app(settings), **server_options(settings))
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as silent:
            answer = _closed_within(silent, 5)
        assert answer is not None and answer.startswith(b"HTTP/1.1 408 ")
        assert b"request head not received within 0.5 s" in answer
        with socket.create_connection(("127.0.0.1", server.port)) as trickle:
            for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: abcdefgh":
                try:
                    trickle.sendall(bytes([byte]))
                except OSError:
                    break  # closed between two bytes
                if _closed_within(trickle, 0.05) is not None:
                    break
            else:
                pytest.fail("a head trickled in for 2 s was still being read")
        with socket.create_connection(("127.0.0.1", server.port)) as kept:
            request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            for _ in range(2):  # the second request comes after the first head's deadline
                kept.sendall(request)
                kept.settimeout(5)
                assert kept.recv(4096).startswith(b"HTTP/1.1 200 ")
                time.sleep(0.3)
            kept.sendall(b"GET /health HTTP/1.1\r\n")  # the third one stalls
            answer = _closed_within(kept, 5)
            assert answer is not None and answer.startswith(b"HTTP/1.1 408 ")
        with socket.create_connection(("127.0.0.1", server.port)) as expecting:
            body = b'{"prompt": "hi"}'
            expecting.sendall(
                b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            expecting.settimeout(5)
            assert expecting.recv(4096).startswith(b"HTTP/1.1 100 ")
            expecting.sendall(body[:5])
            time.sleep(0.8)  # a body may take longer than a head's deadline after a 100
            expecting.sendall(body[5:])
            answer = expecting.recv(4096)
            assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 408 ")
    finally:
        server.stop()
