"""Per-miner score components over a set of rounds (an epoch), with their evidence.

* quality: mean challenge score over every probe sent to the miner (timeouts, errors
  and penalties count as 0);
* speed: mean per-probe speed credit over the same probes (credit only for passes, see
  :mod:`.grading`), so a fast miner that answers wrongly earns no speed;
* availability: given (the monitor's share of successful health probes);
* participation: share of probes answered in time with a well-formed reply;
* total: the subnet's weights dotted with the components.

A miner named only in ``availability`` (registered but never probed this epoch) gets
zero quality, speed and participation: it is scored, not skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from tensornode.scoring.schemas import ComponentWeights, Evidence, MinerScore, RoundResult


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_miner(
    miner_id: str,
    evidence: list[Evidence],
    availability: float,
    weights: ComponentWeights,
) -> MinerScore:
    """One miner's components from its evidence and its availability share."""
    if not 0.0 <= availability <= 1.0:
        raise ValueError(f"availability of {miner_id} must be in [0, 1], got {availability}")
    quality = _mean([e.score for e in evidence])
    speed = _mean([e.speed for e in evidence])
    answered = sum(1 for e in evidence if e.answered)
    participation = answered / len(evidence) if evidence else 0.0
    total = (
        weights.quality * quality
        + weights.speed * speed
        + weights.availability * availability
        + weights.participation * participation
    )
    return MinerScore(
        miner_id=miner_id,
        quality=round(quality, 6),
        speed=round(speed, 6),
        availability=round(availability, 6),
        participation=round(participation, 6),
        total=round(total, 6),
        weights=weights,
        probes=len(evidence),
        answered=answered,
        passed=sum(1 for e in evidence if e.passed),
        evidence=tuple(evidence),
    )


def score_epoch(
    rounds: Iterable[RoundResult],
    availability: Mapping[str, float],
    weights: ComponentWeights | None = None,
) -> dict[str, MinerScore]:
    """miner id -> :class:`MinerScore` over ``rounds``; every miner seen is scored.

    Miners absent from ``availability`` count as 0% available. Default weights are the
    miner guide's 0.4/0.3/0.2/0.1 (pass the subnet's ``weights``).
    """
    weights = weights or ComponentWeights()
    per_miner: dict[str, list[Evidence]] = defaultdict(list)
    for rnd in rounds:
        for ev in rnd.evidence:
            per_miner[ev.miner_id].append(ev)
    for miner_id in availability:
        per_miner.setdefault(miner_id, [])
    return {
        m: score_miner(m, evs, availability.get(m, 0.0), weights)
        for m, evs in sorted(per_miner.items())
    }


def ranking(scores: Mapping[str, MinerScore]) -> list[str]:
    """Miner ids by total, best first (ties by id, so the order is stable)."""
    return sorted(scores, key=lambda m: (-scores[m].total, m))
