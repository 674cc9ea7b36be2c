"""``GET /metrics`` on the coordinator app: the monitor's counters, one registry per app."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tensornode.config import MonitorSettings, Settings
from tensornode.coordinator.accounts import get_or_create_account
from tensornode.coordinator.app import build_app
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import Miner, utcnow

from .scripted_miner import ScriptedMiner


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` (with its lifespan) on a loopback port until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(60):
            while not server.started:
                assert not task.done(), "the coordinator did not start"
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def add_external_miner(core: Coordinator, endpoint: str) -> str:
    async with core.db.session() as session:
        await get_or_create_account(session, "0.0.1001")
        miner = Miner(
            owner_id="0.0.1001", kind="external", name="scripted", subnet="llm",
            endpoint=endpoint, status="active", restarts=0, started_at=utcnow(),
        )  # fmt: skip
        session.add(miner)
    return miner.id


def app_for(data_dir: Path) -> FastAPI:
    # the loop is off: the test drives passes itself
    monitor = MonitorSettings(enabled=False, unhealthy_after=2)
    return build_app(Settings(data_dir=data_dir, dev_mode=True, monitor=monitor))


async def test_metrics_count_probes_and_show_miners_up(
    tmp_path: Path, scripted_miner: ScriptedMiner
) -> None:
    first, second = app_for(tmp_path / "a"), app_for(tmp_path / "b")
    async with serve(first) as url, serve(second) as other_url:
        miner_id = await add_external_miner(first.state.coordinator, scripted_miner.endpoint)
        monitor = first.state.monitor
        await monitor.run_once()
        scripted_miner.failing(500)
        await monitor.run_once()
        await monitor.run_once()
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{url}/metrics")
            other = await client.get(f"{other_url}/metrics")
            listed = (await client.get(f"{url}/miners/{miner_id}")).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'tensornode_miner_probes_total{result="ok"} 1.0' in text
    assert 'tensornode_miner_probes_total{result="unhealthy"} 2.0' in text
    assert f'tensornode_miner_up{{miner_id="{miner_id}"}} 0.0' in text
    assert "tensornode_miner_probe_latency_seconds_count 3.0" in text
    assert "# TYPE tensornode_miner_restarts_total counter" in text
    assert "tensornode_miner_restarts_total{" not in text  # an external miner is not restarted
    # the other app has its own registry: nothing was probed there
    assert other.status_code == 200
    assert "tensornode_miner_probes_total{" not in other.text
    # the external miner is marked unhealthy and never restarted
    assert listed["status"] == "unhealthy"
    assert listed["restarts"] == 0
    assert listed["availability"] == 1 / 3
