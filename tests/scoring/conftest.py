"""Fixtures of the validator suite: scripted miners on loopback, the probe client, the
real MiniLM scorer (loaded once per process)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tensornode.scoring import MinerTarget
from tensornode.scoring.probe import ProbeClient
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.sim import MinerFarm


@pytest.fixture
async def farm() -> AsyncIterator[MinerFarm]:
    async with MinerFarm() as f:
        yield f


@pytest.fixture
async def client() -> AsyncIterator[ProbeClient]:
    async with ProbeClient() as c:
        yield c


@pytest.fixture(scope="session")
def embedder() -> EmbeddingScorer:
    scorer = EmbeddingScorer()
    scorer.warm_up()
    return scorer


def targets(farm: MinerFarm) -> list[MinerTarget]:
    """Every miner of the farm (down ones included) as probe targets."""
    return [MinerTarget(miner_id, url) for miner_id, url in farm.urls.items()]
