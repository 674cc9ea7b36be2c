"""The adversarial epoch, run once for the suite (a real coordinator, real miners on
loopback registered through ``POST /miners``, real rounds, gateway traffic, settlement)."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio

from factories import make_settings
from tensornode.scoring.adversaries import EpochOutcome, run_epoch
from tensornode.scoring.scorers.embedding import EmbeddingScorer

EPOCH_SECONDS = 86_400  # one epoch holds the whole run (unless it crosses midnight UTC)
EMISSION = 1_000_000_007


@pytest.fixture(scope="session")
def embedder() -> EmbeddingScorer:
    scorer = EmbeddingScorer()
    scorer.warm_up()
    return scorer


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outcome(
    tmp_path_factory: pytest.TempPathFactory, embedder: EmbeddingScorer
) -> EpochOutcome:
    data: Path = tmp_path_factory.mktemp("integrity")
    base = make_settings(data / "data", f"sqlite:///{data / 'network.db'}")
    settings = base.model_copy(
        update={
            "rewards": base.rewards.model_copy(
                update={"epoch_seconds": EPOCH_SECONDS, "emission_per_epoch": EMISSION}
            ),
            "validator": base.validator.model_copy(update={"timeout_s": 10.0}),
        }
    )
    return await run_epoch(settings, rounds=3, user_requests=36, embedder=embedder)
