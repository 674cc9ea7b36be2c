"""Shared fixtures of the miner tests: the tiny model built once, apps, servers, fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tensornode.config import MinerSettings, Settings
from tensornode.miner.app import build_miner_app
from tensornode.miner.backends.base import Backend, BackendInfo, GenerationRequest, GenerationResult
from tensornode.miner.backends.tiny import ensure_tiny_model
from tensornode.miner.service import MinerService


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding the tiny model, built once per test session."""
    data_dir = tmp_path_factory.mktemp("tensornode-data")
    ensure_tiny_model(data_dir)
    return data_dir


def make_settings(data_dir: Path, **miner: Any) -> Settings:
    """Settings for a test miner: its own data dir and miner limits."""
    return Settings(data_dir=data_dir, miner=MinerSettings(**miner))


class ScriptedBackend:
    """A backend the test drives: gates on load and generation, fails on ``boom``."""

    name = "scripted"

    def __init__(
        self, *, max_batch_size: int = 8, context_length: int = 64, block_load: bool = False
    ) -> None:
        self.max_batch_size = max_batch_size
        self.max_concurrency = 1
        self.context_length = context_length
        self.load_gate = threading.Event()
        self.generate_gate = threading.Event()
        self.generate_gate.set()
        if not block_load:
            self.load_gate.set()
        self.entered = threading.Event()  # set when a batch starts generating
        self.batches: list[list[str]] = []
        self.closed = False

    def load(self) -> None:
        if not self.load_gate.wait(timeout=30):
            raise RuntimeError("test never released the load gate")

    def info(self) -> BackendInfo:
        return BackendInfo(model_name="scripted", context_length=self.context_length, device="cpu")

    def count_tokens(self, prompt: str) -> int | None:
        return len(prompt.split())

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.entered.set()
        if not self.generate_gate.wait(timeout=30):
            raise RuntimeError("test never released the generate gate")
        self.batches.append([r.prompt for r in requests])
        if any(r.prompt == "boom" for r in requests):
            raise RuntimeError("CUDA error: device-side assert triggered")
        return [
            GenerationResult(f"answer to {r.prompt}", len(r.prompt.split()), 3) for r in requests
        ]

    def close(self) -> None:
        self.closed = True


@asynccontextmanager
async def asgi_miner(
    settings: Settings, backends: Mapping[str, Backend], *, wait: bool = True
) -> AsyncIterator[tuple[httpx.AsyncClient, MinerService]]:
    """The miner app over httpx's ASGITransport, lifespan run, models loaded if ``wait``."""
    service = MinerService(settings, backends)
    app = build_miner_app(settings, service)
    async with app.router.lifespan_context(app):
        if wait:
            await service.wait_loaded()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://miner") as client:
            yield client, service


@pytest.fixture
def asgi_miner_factory() -> Callable[..., Any]:
    """``async with asgi_miner_factory(settings, {"llm": backend}) as (client, service)``."""
    return asgi_miner


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on a free loopback port; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
