"""What each way of cheating earns over one settled epoch (the issue's targets)."""

from __future__ import annotations

import pytest

from tensornode.scoring.adversaries import CHEATERS, HONEST, EpochOutcome


def _table(outcome: EpochOutcome) -> str:
    return "\n".join(
        f"{m.name:15} {m.reward:>12} {m.share_of_honest:6.1%} total {m.total:.3f} "
        f"consistency {m.consistency:.2f} ({m.traffic}) rank {m.rank}"
        for m in sorted(outcome.miners.values(), key=lambda m: m.rank)
    )


@pytest.mark.parametrize("cheater", CHEATERS)
def test_each_cheater_earns_at_most_five_percent_of_the_honest_solver(
    outcome: EpochOutcome, cheater: str
) -> None:
    assert outcome.miners["honest-b"].reward > 0, _table(outcome)
    assert outcome.miners[cheater].share_of_honest <= 0.05, _table(outcome)


def test_an_honest_solver_ranks_first_and_the_weak_model_between(outcome: EpochOutcome) -> None:
    ranks = {m.name: m.rank for m in outcome.miners.values()}
    assert {ranks[h] for h in HONEST} == {1, 2}, _table(outcome)
    weak = outcome.miners["weak"]
    assert 0 < weak.reward < outcome.miners["honest-b"].reward, _table(outcome)


def test_a_copied_honest_miner_keeps_its_reward(outcome: EpochOutcome) -> None:
    copied, other = outcome.miners["honest-a"], outcome.miners["honest-b"]
    assert copied.reward >= 0.95 * other.reward, _table(outcome)


def test_the_probe_detector_is_told_why(outcome: EpochOutcome) -> None:
    detector = outcome.miners["probe-detector"]
    assert outcome.served.get("probe-detector", 0) > 0, outcome.served  # users got its junk
    assert detector.traffic > 0 and detector.consistency == 0.0, _table(outcome)
    assert any(line.startswith("served users worse than probes") for line in detector.why)


def test_relayed_and_health_only_miners_fail_every_challenge(outcome: EpochOutcome) -> None:
    for name in ("relay", "health-only"):
        why = outcome.miners[name].why
        assert any("challenges failed with an error" in line for line in why), why
    relay_why = " ".join(outcome.miners["relay"].why)
    assert "HTTP 401" in relay_why  # honest-a refused the relayed, foreign-signed requests


def test_a_miner_serving_streaming_users_junk_is_caught_by_sampled_streams(
    outcome: EpochOutcome,
) -> None:
    cheater = outcome.miners["stream-cheater"]
    assert outcome.served.get("stream-cheater", 0) > 0, outcome.served
    assert cheater.traffic > 0 and cheater.traffic_passed < cheater.traffic, _table(outcome)
    if cheater.consistency < 1.0:  # enough junk among its samples to be significant
        assert cheater.share_of_honest <= cheater.traffic_passed / cheater.traffic
        assert any(line.startswith("served users worse than probes") for line in cheater.why)
