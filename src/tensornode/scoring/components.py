"""Per-miner score components over a set of rounds (an epoch), with their evidence.

Quality gates everything: a wrong, empty or missing answer earns nothing in any
component, so staying up, answering fast or answering at all is worth nothing without
right answers.

* quality: mean challenge score over every probe sent to the miner (failed answers,
  timeouts, errors and penalties count as 0: partial credit below the pass threshold is
  no credit);
* speed: mean per-probe speed credit over the same probes (credit only for passes, see
  :mod:`.grading`), so a fast miner that answers wrongly earns no speed;
* availability: the monitor's share of successful health probes, credited in
  proportion to the share of probes passed (a miner whose ``/health`` is fine but whose
  chat fails earns none);
* participation: the share of probes answered in time *and* passed;
* consistency: how sampled real user answers held up when graded (:mod:`.traffic`)
  against what the miner's probe pass rate ``p`` predicts: when ``x`` of ``n`` passed
  and so few passes were unlikely (binomial ``P(X <= x | n, min(p, 1 - GRADER_ERROR))
  < SIGNIFICANCE``: the traffic grader's own misjudgements are allowed for), it is
  ``((x / n) / p) ** 2``; otherwise 1 (an honest weak model fails users as often as
  probes and is not punished twice). It multiplies the total, so a miner that serves
  users worse than it serves probes loses its score, and more than in proportion: one
  that serves a share ``f`` of its users junk (say every streamed request, which
  probes are not) keeps ``(1 - f) ** 2``, below an honest model that is right as often;
* total: ``consistency x`` the subnet's weights dotted with the four components.

A miner named only in ``availability`` (registered but never probed this epoch) gets
zero everywhere: it is scored, not skipped.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping

from tensornode.scoring.schemas import ComponentWeights, Evidence, MinerScore, RoundResult

SIGNIFICANCE = 0.05
"""How unlikely the user answers' passes must be, given the probe pass rate, to count."""
GRADER_ERROR = 0.03
"""The share of good user answers the traffic grader may misjudge (references agreeing
on another wording): an honest miner that passes every probe is expected to pass at
least ``1 - GRADER_ERROR`` of graded user answers, not all of them."""


def served_like_probes(passed: int, graded: int, probe_share: float) -> float:
    """The consistency factor (see the module docstring); 1 without graded traffic."""
    if graded == 0 or passed >= graded * probe_share:
        return 1.0
    p = min(max(probe_share, 0.0), 1.0)
    expected = min(p, 1.0 - GRADER_ERROR)
    tail = sum(
        math.comb(graded, k) * expected**k * (1 - expected) ** (graded - k)
        for k in range(passed + 1)
    )
    if tail >= SIGNIFICANCE:
        return 1.0  # as many user failures as the probe pass rate predicts
    return min(1.0, (passed / graded) / p) ** 2 if p > 0 else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def score_miner(
    miner_id: str,
    evidence: list[Evidence],
    availability: float,
    weights: ComponentWeights,
) -> MinerScore:
    """One miner's components from its evidence and its availability share (the
    monitor's raw share; credited here in proportion to the probes passed)."""
    if not 0.0 <= availability <= 1.0:
        raise ValueError(f"availability of {miner_id} must be in [0, 1], got {availability}")
    probes = [e for e in evidence if not e.traffic]
    traffic = [e for e in evidence if e.traffic]
    passed = sum(1 for e in probes if e.passed)
    passed_share = passed / len(probes) if probes else 0.0
    quality = _mean([e.score if e.passed else 0.0 for e in probes])
    speed = _mean([e.speed for e in probes])
    credited = availability * passed_share
    traffic_passed = sum(1 for e in traffic if e.passed)
    consistency = served_like_probes(traffic_passed, len(traffic), passed_share)
    total = consistency * (
        weights.quality * quality
        + weights.speed * speed
        + weights.availability * credited
        + weights.participation * passed_share
    )
    return MinerScore(
        miner_id=miner_id,
        quality=round(quality, 6),
        speed=round(speed, 6),
        availability=round(credited, 6),
        participation=round(passed_share, 6),
        total=round(total, 6),
        weights=weights,
        probes=len(probes),
        answered=sum(1 for e in probes if e.answered),
        passed=passed,
        evidence=tuple(evidence),
        consistency=round(consistency, 6),
        traffic=len(traffic),
        traffic_passed=traffic_passed,
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
