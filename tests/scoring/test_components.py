"""Epoch components from evidence: quality, speed, availability, participation, total."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tensornode.scoring import ComponentWeights, RoundResult, ranking, score_epoch
from tensornode.scoring.components import served_like_probes
from tensornode.scoring.schemas import TRAFFIC_FAMILY, Evidence, ProbeStatus, Verdict


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
    # availability and participation are credited only for the half of the probes passed
    assert (a.quality, a.speed, a.participation, a.availability) == (0.5, 0.5, 0.5, 0.5)
    assert a.total == pytest.approx(0.4 * 0.5 + 0.3 * 0.5 + 0.2 * 0.5 + 0.1 * 0.5)
    assert (b.quality, b.speed, b.participation, b.availability) == (0.5, 0.25, 0.5, 0.25)
    assert b.total == pytest.approx(0.4 * 0.5 + 0.3 * 0.25 + 0.2 * 0.25 + 0.1 * 0.5)
    assert (a.probes, a.answered, a.passed) == (2, 2, 1)
    assert len(b.evidence) == 2
    assert ranking(scores) == ["a", "b"]


def test_missing_availability_is_zero_and_unprobed_miners_are_still_scored() -> None:
    scores = score_epoch([rnd(ev("a", 1.0, "pass", speed=1.0))], {"idle": 1.0})
    assert scores["a"].availability == 0.0
    assert scores["idle"].total == 0.0  # up all epoch, never probed: nothing earned
    assert scores["idle"].probes == 0


@pytest.mark.parametrize(
    "evidence",
    [
        [ev("junk", 0.0, "fail")] * 4,  # constant or wrong answers, however fast
        [ev("junk", 0.0, "penalty")] * 4,  # empty or echoed answers
        [ev("junk", 0.0, "error", status="error")] * 4,  # /health fine, chat fails
    ],
    ids=["wrong", "penalised", "chat-down"],
)
def test_junk_answers_earn_nothing_in_any_component(evidence: list[Evidence]) -> None:
    junk = score_epoch([rnd(*evidence)], {"junk": 1.0})["junk"]
    assert (junk.quality, junk.speed, junk.availability, junk.participation) == (0, 0, 0, 0)
    assert junk.total == 0.0


def test_graded_user_traffic_multiplies_the_total() -> None:
    probes = [ev("m", 1.0, "pass", speed=1.0)] * 4
    user = [
        replace(ev("m", 0.0, "fail"), family=TRAFFIC_FAMILY, challenge_id=f"t{i}") for i in range(3)
    ] + [replace(ev("m", 1.0, "pass"), family=TRAFFIC_FAMILY, challenge_id="t3")]
    served_well = score_epoch([rnd(*probes)], {"m": 1.0})["m"]
    served_badly = score_epoch([rnd(*probes, *user)], {"m": 1.0})["m"]
    assert served_well.total == pytest.approx(1.0)
    assert (served_badly.traffic, served_badly.traffic_passed) == (4, 1)
    assert served_badly.consistency == 0.0625  # passes 100% of probes, 25% of users
    assert served_badly.total == pytest.approx(0.0625)
    assert served_badly.probes == 4  # traffic is not a probe: quality is from probes


def test_a_weak_model_failing_users_as_often_as_probes_is_not_punished_twice() -> None:
    probes = [ev("weak", 1.0, "pass")] * 5 + [ev("weak", 0.0, "fail")] * 5
    user = [
        replace(ev("weak", float(i % 2), "pass" if i % 2 else "fail"),
                family=TRAFFIC_FAMILY, challenge_id=f"t{i}")
        for i in range(4)
    ]  # fmt: skip
    weak = score_epoch([rnd(*probes, *user)], {"weak": 1.0})["weak"]
    assert weak.consistency == 1.0 and weak.traffic == 4
    assert served_like_probes(0, 1, 0.5) == 1.0  # one failure tells nothing at 50%
    assert served_like_probes(0, 1, 1.0) == 0.0  # never fails a probe, failed a user
    assert served_like_probes(1, 6, 0.9) == pytest.approx(((1 / 6) / 0.9) ** 2)
    assert served_like_probes(4, 7, 1.0) == pytest.approx((4 / 7) ** 2)  # 3 users failed


def test_the_traffic_graders_own_misjudgements_cost_an_honest_miner_nothing() -> None:
    assert served_like_probes(22, 23, 1.0) == 1.0  # one user answer judged wrong
    assert served_like_probes(21, 23, 1.0) == 1.0
    assert served_like_probes(18, 23, 1.0) == pytest.approx((18 / 23) ** 2)


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
