"""The coordinator's lifespan runs the validator loop and the epoch scheduler when enabled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from scoring.network.conftest import network, validation_settings
from tensornode.epochs.models import Epoch
from tensornode.scoring.network.models import ValidationRound
from tensornode.scoring.network.runtime import with_dev_network_pace
from tensornode.scoring.scorers.embedding import EmbeddingScorer


async def test_lifespan_runs_rounds_and_settles_epochs(
    tmp_path: Path, embedder: EmbeddingScorer
) -> None:
    base = validation_settings(
        tmp_path / "data", f"sqlite:///{tmp_path / 'network.db'}", scheduler=True,
        settle_interval_s=0.1, epoch_seconds=2,
    )  # fmt: skip  # an epoch is settled once it ended with rounds in it: a short one
    settings = base.model_copy(
        update={
            "validator": base.validator.model_copy(
                update={"in_process": True, "round_interval_s": 0.1}
            )
        }
    )
    async with network(settings, embedder, ("correct",)) as net:
        for _ in range(600):  # both loops' first passes come after one interval
            async with net.core.db.session() as session:
                rounds = await session.scalar(select(func.count()).select_from(ValidationRound))
                epochs = await session.scalar(select(func.count()).select_from(Epoch))
            if rounds and epochs:
                break
            await asyncio.sleep(0.1)
    assert rounds and epochs, (rounds, epochs)


def test_tensornode_up_paces_epochs_in_minutes_unless_told_otherwise(tmp_path: Path) -> None:
    paced = with_dev_network_pace(validation_settings(tmp_path, "sqlite://"))
    assert paced.rewards.epoch_seconds == 300 and paced.validator.round_interval_s == 30.0
    told = validation_settings(tmp_path, "sqlite://", epoch_seconds=60)
    assert with_dev_network_pace(told).rewards.epoch_seconds == 60
