"""Real servers on loopback for tests: an ASGI app under uvicorn, or fixed bytes over HTTP.

Apps are served as ``tensornode coordinator`` serves them (coordinator/server.py's
``server_config``), so tests over loopback exercise the production serving path.

Servers bind a socket first and hand it to uvicorn, so the port is known without a
free-port race; the socket is made with IPPROTO_TCP so asyncio sets TCP_NODELAY on
accepted connections (with proto 0 it does not, and Nagle + delayed ACKs add ~40 ms to
each request on a reused keep-alive connection).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import uvicorn

from tensornode.coordinator.server import server_config


def loopback_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    return sock


def _url(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


class ThreadedServer:
    """uvicorn serving an app on loopback from a thread (its own event loop)."""

    def __init__(self, app: Any, **options: Any) -> None:
        """``options``: more of uvicorn's configuration (``timeout_keep_alive``, ...)."""
        self.sock = loopback_socket()
        self.port = self.sock.getsockname()[1]
        self.url = _url(self.sock)
        self.server = uvicorn.Server(server_config(app, **options))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self, timeout: float = 60.0) -> None:
        """Start serving; block until the server answers (or fail)."""
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            assert self.thread.is_alive(), "the server did not start"
            assert time.monotonic() < deadline, "the server did not start in time"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(60)
        self.sock.close()

    async def __aenter__(self) -> ThreadedServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        await asyncio.to_thread(self.thread.join, 60)
        self.sock.close()


@contextmanager
def serving_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` from a thread, for synchronous tests (CLI); yields its URL."""
    server = ThreadedServer(app)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@asynccontextmanager
async def serving_in_loop(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` in the running event loop until the block ends; yields its URL."""
    sock = loopback_socket()
    config = server_config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield _url(sock)
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextmanager
def serving_bytes(content: bytes, path: str = "/Dockerfile") -> Iterator[str]:
    """An HTTP server on loopback answering GET with ``content``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
