"""Turning a round's probe results into evidence: penalties, scorers, speed credit.

Order of judgement for one (challenge, miner):

1. no answer in time -> ``timeout``; refused, non-200, not JSON, no answer key -> ``error``;
2. empty answer, echo of the prompt -> ``penalty``;
3. open challenge: an answer another miner gave first, verbatim, to its own (different)
   question -> ``penalty`` (copying); the first answer to arrive keeps its score, so an
   honest miner is never penalised for being copied;
4. the family's checker (verifiable) or embedding similarity / the judge (open);
   ``pass`` from the subnet's threshold, ``fail`` below it.

Speed is then credited to passes only: ``min(1, (1 + SPEED_TOLERANCE) * median / pace)``
where a pace is the latency per word of the challenge's expected answer (each miner
answers its own instances, and one open question needs a longer answer than another;
the expected answer's length is the validator's, so padding an answer buys nothing) and
the median is over the passing answers of that family in the round. It is scale-free and
gives full credit up to a quarter above the median: with two or three passing miners the
median is one of them, and a few ms of network or validator-side jitter (or the load a
copier's relayed requests add to the miner it copies) must not decide between equally
fast models. It halves at two and a half times the median. Non-passing answers get no
speed credit.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from tensornode.scoring.challenges import FAMILIES
from tensornode.scoring.penalties import echoes_prompt, find_copies, is_empty
from tensornode.scoring.schemas import Challenge, Evidence, Outcome, ProbeResult, Verdict
from tensornode.scoring.scorers.judge import JudgeScorer

SPEED_TOLERANCE = 0.25
"""Paces up to this share above the round's median get full speed credit."""


class Embedder(Protocol):
    """Scores ``(reference, answer)`` pairs (the :class:`EmbeddingScorer` shape)."""

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[Outcome]: ...


@dataclass(frozen=True, slots=True)
class GradingOptions:
    """Knobs of the penalties and the evidence (defaults from ``ValidatorSettings``)."""

    pass_threshold: float = 0.5
    copy_min_words: int = 6
    copy_min_group: int = 2
    evidence_chars: int = 200
    judge_concurrency: int = 8


def _truncate(answer: str | None, limit: int) -> str | None:
    if answer is None or len(answer) <= limit:
        return answer
    return answer[: limit - 1] + "\u2026"


def _preliminary(challenge: Challenge, probe: ProbeResult) -> tuple[float, Verdict, str] | None:
    """The verdict reached before scoring, or ``None`` when the answer needs scoring."""
    if probe.status == "timeout":
        return 0.0, "timeout", probe.error or "timed out"
    if probe.status == "error" or probe.answer is None:
        return 0.0, "error", probe.error or "no answer"
    if is_empty(probe.answer):
        return 0.0, "penalty", "empty answer"
    if echoes_prompt(challenge.prompt, probe.answer):
        return 0.0, "penalty", "answer echoes the prompt"
    return None


async def grade_round(
    round_id: str,
    challenges: Sequence[Challenge],
    probes: Mapping[str, Sequence[ProbeResult]],
    *,
    embedder: Embedder | None,
    judge: JudgeScorer | None,
    options: GradingOptions,
) -> tuple[list[Evidence], dict[str, float | None]]:
    """Evidence for every probe of a round (``probes``: challenge id -> results) and the
    per-family median latency of passing answers."""
    verdicts: dict[tuple[str, str], tuple[float, Verdict, str]] = {}
    pending: list[tuple[Challenge, ProbeResult]] = []
    for ch in challenges:
        for p in probes[ch.id]:
            early = _preliminary(ch, p)
            if early is not None:
                verdicts[(ch.id, p.miner_id)] = early
            elif ch.open:
                pending.append((ch, p))
            else:
                check = FAMILIES[ch.family].check
                assert check is not None  # verifiable families always have a checker
                out = check(ch.expected, p.answer or "")
                verdicts[(ch.id, p.miner_id)] = _judged(out, options.pass_threshold)
    pending = _copy_checked(pending, verdicts, options)
    for (ch, p), out in zip(
        pending, await _score_open(pending, embedder, judge, options), strict=True
    ):
        verdicts[(ch.id, p.miner_id)] = _judged(out, options.pass_threshold)
    return _with_speed(round_id, challenges, probes, verdicts, options)


def _judged(out: Outcome, threshold: float) -> tuple[float, Verdict, str]:
    return out.score, "pass" if out.score >= threshold else "fail", out.reason


def _copy_checked(
    pending: Sequence[tuple[Challenge, ProbeResult]],
    verdicts: dict[tuple[str, str], tuple[float, Verdict, str]],
    options: GradingOptions,
) -> list[tuple[Challenge, ProbeResult]]:
    """Penalise open answers another miner gave verbatim before; return the rest."""
    keyed = {(ch.id, p.miner_id): p for ch, p in pending}
    answers = {key: p.answer or "" for key, p in keyed.items()}
    copies = find_copies(
        answers,
        first=lambda key: keyed[key].order,
        author=lambda key: key[1],
        min_words=options.copy_min_words,
        min_group=options.copy_min_group,
    )
    rest = []
    for ch, p in pending:
        original = copies.get((ch.id, p.miner_id))
        if original is None:
            rest.append((ch, p))
            continue
        verdicts[(ch.id, p.miner_id)] = (
            0.0,
            "penalty",
            f"copying: the same answer miner {original[1]} gave first",
        )
    return rest


async def _score_open(
    pending: Sequence[tuple[Challenge, ProbeResult]],
    embedder: Embedder | None,
    judge: JudgeScorer | None,
    options: GradingOptions,
) -> list[Outcome]:
    """Judge when configured, else embedding similarity (one batch, off the event loop)."""
    if not pending:
        return []
    if judge is not None:
        gate = asyncio.Semaphore(options.judge_concurrency)

        async def one(ch: Challenge, p: ProbeResult) -> Outcome:
            async with gate:
                return await judge.score(ch.question or ch.prompt, ch.expected, p.answer or "")

        return list(await asyncio.gather(*(one(ch, p) for ch, p in pending)))
    if embedder is None:
        from tensornode.scoring.scorers.embedding import EmbeddingScorer

        embedder = EmbeddingScorer()
    pairs = [(ch.expected, p.answer or "") for ch, p in pending]
    return await asyncio.to_thread(embedder.score, pairs)


def _with_speed(
    round_id: str,
    challenges: Sequence[Challenge],
    probes: Mapping[str, Sequence[ProbeResult]],
    verdicts: Mapping[tuple[str, str], tuple[float, Verdict, str]],
    options: GradingOptions,
) -> tuple[list[Evidence], dict[str, float | None]]:
    rows: list[tuple[Challenge, Evidence]] = []
    for ch in challenges:
        for p in probes[ch.id]:
            score, verdict, reason = verdicts[(ch.id, p.miner_id)]
            rows.append((ch, Evidence(
                    round_id=round_id,
                    challenge_id=ch.id,
                    challenge_hash=ch.hash,
                    family=ch.family,
                    miner_id=p.miner_id,
                    status=p.status,
                    answer=_truncate(p.answer, options.evidence_chars),
                    latency_s=None if p.latency_s is None else round(p.latency_s, 6),
                    score=round(score, 4),
                    verdict=verdict,
                    reason=reason,
                )))  # fmt: skip

    def pace(ch: Challenge, e: Evidence) -> float | None:
        if not e.passed or e.latency_s is None:
            return None
        return e.latency_s / max(1, len(ch.expected.split()))

    passing: dict[str, list[float]] = {}
    for ch, e in rows:
        value = pace(ch, e)
        if value is not None:
            passing.setdefault(e.family, []).append(value)
    medians: dict[str, float | None] = {
        family: statistics.median(passing[family]) if family in passing else None
        for family in dict.fromkeys(ch.family for ch in challenges)
    }
    evidence = []
    for ch, e in rows:
        median, value = medians.get(e.family), pace(ch, e)
        if median is not None and value is not None:
            speed = min(1.0, (1 + SPEED_TOLERANCE) * median / value)
            e = replace(e, speed=round(speed, 4))
        evidence.append(e)
    return evidence, medians
