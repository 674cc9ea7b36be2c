"""A scripted miner on loopback whose /health answers what a test says."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class ScriptedMiner:
    """A miner whose /health answers what the test says, on a real loopback port."""

    endpoint: str
    status_code: int = 200
    body: object = None
    delay_s: float = 0.0
    probes: int = 0

    def healthy(self) -> None:
        self.status_code = 200
        self.body = {"status": "healthy", "model_loaded": True, "uptime": "0h 0m 1s"}

    def failing(self, status_code: int = 503, body: object = None) -> None:
        self.status_code = status_code
        self.body = body if body is not None else {"error": "model crashed"}


def _app(miner: ScriptedMiner) -> Starlette:
    async def health(_: Request) -> Response:
        miner.probes += 1
        if miner.delay_s:
            await asyncio.sleep(miner.delay_s)
        return JSONResponse(miner.body, status_code=miner.status_code)

    return Starlette(routes=[Route("/health", health)])


@asynccontextmanager
async def serve_scripted_miner() -> AsyncIterator[ScriptedMiner]:
    """Serve a healthy scripted miner until the block ends."""
    # IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted connections (as uvicorn's own
    # sockets get): with proto 0 it does not, and Nagle + delayed ACKs add 40 ms a request
    # on a reused keep-alive connection
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    miner = ScriptedMiner(endpoint=f"http://127.0.0.1:{port}")
    miner.healthy()
    server = uvicorn.Server(uvicorn.Config(_app(miner), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield miner
    finally:
        server.should_exit = True
        await task
        sock.close()
