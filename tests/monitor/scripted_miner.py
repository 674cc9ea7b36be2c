"""A scripted miner on loopback whose /health answers what a test says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from loopback import serving_in_loop


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
    miner = ScriptedMiner(endpoint="")
    miner.healthy()
    async with serving_in_loop(_app(miner)) as url:
        miner.endpoint = url
        yield miner
