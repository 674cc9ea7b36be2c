"""Score inputs for epoch tests: validator-like scores and the frozen MinerResults."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tensornode.config import RewardsSettings
from tensornode.epochs.report import MinerResult

TREASURY, POOL = "0.0.98", "0.0.99"
VALIDATORS = ["0.0.3001", "0.0.3002", "0.0.3003"]


@dataclass
class FakeMinerScore:
    """Shaped like the validator's per-miner score: components plus evidence records."""

    quality: float
    speed: float
    availability: float
    participation: float
    total: float
    evidence: list[Any] = field(default_factory=list)


def miner(miner_id: str, account: str, total: float, evidence: int = 2) -> MinerResult:
    records = [
        {
            "challenge_sha256": f"{miner_id}-{i:02d}".ljust(64, "0"),
            "latency_ms": 120 + i,
            "verdict": "pass",
        }
        for i in range(evidence)
    ]
    score = FakeMinerScore(total, total, 1.0, 1.0, total, records)
    return MinerResult.from_score(miner_id, account, score)


def some_miners() -> list[MinerResult]:
    return [
        miner("m-a", "0.0.2001", 0.91),
        miner("m-b", "0.0.2002", 0.55),
        miner("m-c", "0.0.2002", 0.25),  # a second instance of the same owner
        miner("m-d", "0.0.2003", 0.0),
        miner("m-e", "0.0.2004", 0.333333),
    ]


def rewards(emission: int = 1_000_003, **overrides: Any) -> RewardsSettings:
    return RewardsSettings(
        emission_per_epoch=emission,
        treasury_account=TREASURY,
        pool_account=POOL,
        epoch_seconds=600,
        **overrides,
    )
