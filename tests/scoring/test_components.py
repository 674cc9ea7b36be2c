"""Epoch components from evidence: quality, speed, availability, participation, total."""

from __future__ import annotations

import pytest

from tensornode.scoring import ComponentWeights, RoundResult, ranking, score_epoch
from tensornode.scoring.schemas import Evidence, ProbeStatus, Verdict


def ev(
    miner: str,
    score: float,
    verdict: Verdict,
    *,
    status: ProbeStatus = "ok",
    speed: float = 0.0,
    latency: float | None = 0.1,
) -> Evidence:
    return Evidence(
        round_id="r",
        challenge_id=f"r-{miner}-{score}",
        challenge_hash="h",
        family="arithmetic",
        miner_id=miner,
        status=status,
        answer="x",
        latency_s=latency,
        score=score,
        verdict=verdict,
        reason="test",
        speed=speed,
    )


def rnd(*evidence: Evidence) -> RoundResult:
    return RoundResult("r", "llm", "t0", "t1", (), tuple(evidence))


def test_components_and_total_follow_the_documented_formulas() -> None:
    rounds = [
        rnd(ev("a", 1.0, "pass", speed=1.0), ev("b", 1.0, "pass", speed=0.5)),
        rnd(
            ev("a", 0.0, "fail"),
            ev("b", 0.0, "timeout", status="timeout", latency=None),
        ),
    ]
    scores = score_epoch(rounds, {"a": 1.0, "b": 0.5})
    a, b = scores["a"], scores["b"]
    assert (a.quality, a.speed, a.participation, a.availability) == (0.5, 0.5, 1.0, 1.0)
    assert a.total == pytest.approx(0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 1.0 + 0.1 * 1.0)
    assert (b.quality, b.speed, b.participation) == (0.5, 0.25, 0.5)
    assert b.total == pytest.approx(0.4 * 0.5 + 0.3 * 0.25 + 0.2 * 0.5 + 0.1 * 0.5)
    assert (a.probes, a.answered, a.passed) == (2, 2, 1)
    assert len(b.evidence) == 2
    assert ranking(scores) == ["a", "b"]


def test_missing_availability_is_zero_and_unprobed_miners_are_still_scored() -> None:
    scores = score_epoch([rnd(ev("a", 1.0, "pass", speed=1.0))], {"idle": 1.0})
    assert scores["a"].availability == 0.0
    assert scores["idle"].total == pytest.approx(0.2)
    assert scores["idle"].probes == 0


def test_weights_are_per_subnet_and_validated() -> None:
    w = ComponentWeights(quality=1.0, speed=0.0, availability=0.0, participation=0.0)
    scores = score_epoch([rnd(ev("a", 0.5, "pass"))], {"a": 1.0}, w)
    assert scores["a"].total == 0.5
    with pytest.raises(ValueError, match="sum to 1"):
        ComponentWeights(quality=0.5)
    with pytest.raises(ValueError, match="unknown weight names"):
        ComponentWeights.from_mapping({"qualty": 1.0})
    with pytest.raises(ValueError, match="must be in"):
        score_epoch([], {"a": 1.5})
