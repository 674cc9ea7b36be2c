"""Fixtures of the validation suite: a real coordinator (SQLite and PostgreSQL) with
scripted miners on loopback registered in it, the real MiniLM scorer, and a way to
serve the coordinator over loopback HTTP from the test's own event loop (so a CLI
subprocess can reach it while the test drives the loops' passes)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from coordinator.conftest import client_for, running_app
from factories import DB_BACKENDS, database_url, free_port, make_settings, new_wallet
from tensornode.config import Settings
from tensornode.coordinator.accounts import get_or_create_account
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import Miner, utcnow
from tensornode.scoring.network.runtime import ValidationRuntime
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.sim import BEHAVIOURS, MinerFarm, ScriptedMiner, signed

SLOW_DELAY_S = 0.4
"""The slow miner's delay: far above a loopback answer, far below the timeout."""


@pytest.fixture(scope="session")
def embedder() -> EmbeddingScorer:
    scorer = EmbeddingScorer()
    scorer.warm_up()
    return scorer


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


def validation_settings(data_dir: Path, db_url: str, **rewards: object) -> Settings:
    """Test settings (loops off: tests run their passes) with a generous probe timeout."""
    base = make_settings(data_dir, db_url)
    return base.model_copy(
        update={
            "validator": base.validator.model_copy(update={"timeout_s": 10.0}),
            "rewards": base.rewards.model_copy(update=rewards),
        }
    )


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return validation_settings(tmp_path / "data", db_url)


@dataclass
class Network:
    """A running coordinator with scripted miners registered: ``miners[behaviour]`` is the
    miner id, ``owners[behaviour]`` its owner's account."""

    app: FastAPI
    core: Coordinator
    runtime: ValidationRuntime
    client: httpx.AsyncClient
    farm: MinerFarm
    miners: dict[str, str]
    owners: dict[str, str]


async def register(core: Coordinator, name: str, url: str, owner: str) -> str:
    """Put a miner in the registry directly (the scripted miners need no miner check)."""
    async with core.db.session() as session:
        await get_or_create_account(session, owner)
        miner = Miner(
            owner_id=owner, kind="external", name=name, subnet="llm", endpoint=url,
            status="active", restarts=0, started_at=utcnow(),
        )  # fmt: skip
        session.add(miner)
        await session.flush()
        return miner.id


async def scripted(farm: MinerFarm, behaviour: str) -> str:
    """Serve a scripted miner; honest ones answer open questions in their own words."""
    if behaviour == "down":
        return farm.add_down(behaviour)
    if behaviour == "slow":
        miner = ScriptedMiner(answer=signed(BEHAVIOURS["correct"], "slow"), delay_s=SLOW_DELAY_S)
    elif behaviour == "correct":
        miner = ScriptedMiner(answer=signed(BEHAVIOURS["correct"], "fast"))
    else:
        miner = ScriptedMiner(answer=BEHAVIOURS[behaviour])
    return await farm.add(behaviour, miner)


@asynccontextmanager
async def network(
    settings: Settings, embedder: EmbeddingScorer, behaviours: tuple[str, ...]
) -> AsyncIterator[Network]:
    """The coordinator (lifespan entered) and one scripted miner per behaviour."""
    async with MinerFarm() as farm, running_app(settings) as app:
        core: Coordinator = app.state.coordinator
        runtime: ValidationRuntime = app.state.validation
        runtime.use_embedder(embedder)
        miners, owners = {}, {}
        for behaviour in behaviours:
            owners[behaviour] = new_wallet()
            url = await scripted(farm, behaviour)
            miners[behaviour] = await register(core, behaviour, url, owners[behaviour])
        async with client_for(app) as client:
            yield Network(app, core, runtime, client, farm, miners, owners)


class LoopServer:
    """uvicorn serving an app (lifespan already entered) on loopback in this event loop."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopServer:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
                raise RuntimeError("the coordinator server did not start")
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


async def tensornode(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the ``tensornode`` command in a child process (this loop keeps serving)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tensornode.cli.main", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())
