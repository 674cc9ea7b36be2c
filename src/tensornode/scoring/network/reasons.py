"""The plain-language "why" of a score: what a miner can act on.

Lines come in a fixed order (not probed or all passed, timeouts, errors, penalties,
wrong answers, slow passes, graded user traffic, health probes); each names how many challenges were
affected and the component it cost, e.g. "3 of 8 challenges timed out (participation
0.62)" or "answers echoed the prompt on 2 challenges". Built from the same evidence the
score was computed from.
"""

from __future__ import annotations

from collections import Counter

from tensornode.db.metrics import HealthStats
from tensornode.scoring.schemas import Evidence, MinerScore

_PENALTIES = (
    ("echoes the prompt", "answers echoed the prompt on {n} challenge{s}"),
    ("empty answer", "empty answers on {n} challenge{s}"),
    ("copying", "answers copied another miner's on {n} challenge{s}"),
)


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def _top(counter: Counter[str], limit: int = 2) -> str:
    return ", ".join(f"{what} (x{n})" for what, n in counter.most_common(limit))


def explain(score: MinerScore, health: HealthStats | None) -> list[str]:
    """Why ``score`` is what it is, one sentence per cause."""
    evidence = [e for e in score.evidence if not e.traffic]
    total = len(evidence)
    lines: list[str] = []
    if total == 0:
        lines.append(
            "not probed by any validator yet in this window (quality, speed and "
            "participation are 0)"
        )
    else:
        lines += _probe_reasons(evidence, score)
    lines += _traffic_reasons(score)
    lines.append(_availability_reason(score, health))
    return lines


def _traffic_reasons(score: MinerScore) -> list[str]:
    if not score.traffic:
        return []
    failed = [e for e in score.evidence if e.traffic and not e.passed]
    if not failed:
        return [
            f"all {score.traffic} sampled user answers held up against other miners' "
            f"(consistency {score.consistency:.2f})"
        ]
    why = _top(Counter(e.reason for e in failed), limit=1)
    if score.consistency >= 1.0:
        return [
            f"{len(failed)} of {score.traffic} sampled user answers failed, as often as its "
            f"probe answers do: {why} (consistency {score.consistency:.2f})"
        ]
    return [
        f"served users worse than probes: {len(failed)} of {score.traffic} sampled user "
        f"answers failed: {why} (consistency {score.consistency:.2f} multiplies the total)"
    ]


def _probe_reasons(evidence: list[Evidence], score: MinerScore) -> list[str]:
    total = len(evidence)
    lines: list[str] = []
    timeouts = [e for e in evidence if e.verdict == "timeout"]
    errors = [e for e in evidence if e.verdict == "error"]
    if timeouts:
        lines.append(
            f"{len(timeouts)} of {total} challenges timed out "
            f"(participation {score.participation:.2f})"
        )
    if errors:
        why = _top(Counter(e.reason for e in errors))
        lines.append(
            f"{len(errors)} of {total} challenges failed with an error: {why} "
            f"(participation {score.participation:.2f})"
        )
    penalties = [e for e in evidence if e.verdict == "penalty"]
    for needle, template in _PENALTIES:
        n = sum(1 for e in penalties if needle in e.reason)
        if n:
            lines.append(template.format(n=n, s=_plural(n)))
    fails = [e for e in evidence if e.verdict == "fail"]
    if fails:
        families = _top(Counter(e.family for e in fails), limit=3)
        lines.append(
            f"{len(fails)} of {total} answers were wrong or off the reference: {families} "
            f"(quality {score.quality:.2f})"
        )
    slow = [e for e in evidence if e.passed and e.speed < 1.0]
    if slow:
        lines.append(
            f"{len(slow)} of {score.passed} passed answers were slower than the round's "
            f"median (speed {score.speed:.2f})"
        )
    if score.passed == total:
        lines.insert(0, f"all {total} challenges passed (quality {score.quality:.2f})")
    return lines


def _availability_reason(score: MinerScore, health: HealthStats | None) -> str:
    if health is None or health.probes == 0:
        return "no health probes recorded in this window (availability 0)"
    line = f"{health.successes} of {health.probes} health probes succeeded"
    if score.probes and score.passed < score.probes:
        line += f", credited for the {score.passed} of {score.probes} challenges passed"
    elif not score.probes:
        line += ", credited only for challenges passed (none yet)"
    return f"{line} (availability {score.availability:.2f})"
