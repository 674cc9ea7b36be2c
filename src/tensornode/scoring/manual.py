"""Manual validation: one question and its expected answer, sent to a list of miners.

The validator page's "ask every miner" tool. Results are informational: they are never
part of an epoch's scores, because the asker supplies the truth (the prior validator let
validators pay miners on their own "truth").

Scoring method ``auto``: a numeric expected answer is matched numerically; otherwise the
judge grades when one is configured, else embedding similarity. Empty and echoed answers
score zero as in rounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from tensornode.errors import InvalidInput
from tensornode.scoring.grading import Embedder
from tensornode.scoring.penalties import echoes_prompt, is_empty
from tensornode.scoring.probe import ProbeClient, send_probe
from tensornode.scoring.schemas import (
    ManualResult,
    MinerTarget,
    Outcome,
    ProbeResult,
    Verdict,
)
from tensornode.scoring.scorers.exact import score_exact
from tensornode.scoring.scorers.fallback import score_fallback
from tensornode.scoring.scorers.judge import JudgeScorer
from tensornode.scoring.scorers.numeric import score_numeric

Method = Literal["auto", "numeric", "exact", "embedding", "judge", "heuristic"]


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def _resolve(method: Method, expected: str, judge: JudgeScorer | None) -> Method:
    if method == "judge" and judge is None:
        raise InvalidInput("no LLM judge is configured (validator.judge_url)")
    if method != "auto":
        return method
    if _is_number(expected.strip()):
        return "numeric"
    return "judge" if judge is not None else "embedding"


async def validate_manually(
    miners: Sequence[MinerTarget],
    question: str,
    expected: str,
    *,
    client: ProbeClient,
    timeout: float = 30.0,
    concurrency: int = 16,
    method: Method = "auto",
    embedder: Embedder | None = None,
    judge: JudgeScorer | None = None,
    temperature: float = 0.7,
    max_tokens: int = 256,
    pass_threshold: float = 0.5,
) -> list[ManualResult]:
    """Each miner's answer, latency and score for ``question`` (in ``miners`` order)."""
    if not question.strip():
        raise InvalidInput("the question must not be empty")
    chosen = _resolve(method, expected, judge)
    gate = asyncio.Semaphore(concurrency)
    payload = {"prompt": question, "temperature": temperature, "max_tokens": max_tokens}

    async def ask(miner: MinerTarget) -> ProbeResult:
        async with gate:
            return await send_probe(client, miner, payload, timeout=timeout)

    probes = await asyncio.gather(*(ask(m) for m in miners))
    usable = [
        p
        for p in probes
        if p.status == "ok"
        and p.answer is not None
        and not is_empty(p.answer)
        and not echoes_prompt(question, p.answer)
    ]
    outcomes = dict(
        zip(
            (p.miner_id for p in usable),
            await _score(
                chosen, question, expected, [p.answer or "" for p in usable], embedder, judge
            ),
            strict=True,
        )
    )
    results = []
    for p in probes:
        out = outcomes.get(p.miner_id)
        verdict: Verdict
        if out is not None:
            verdict = "pass" if out.score >= pass_threshold else "fail"
            score, reason = out.score, out.reason
        elif p.status != "ok":
            verdict = "timeout" if p.status == "timeout" else "error"
            score, reason = 0.0, p.error or p.status
        else:
            verdict, score = "penalty", 0.0
            reason = "empty answer" if is_empty(p.answer or "") else "answer echoes the prompt"
        results.append(
            ManualResult(
                p.miner_id, p.status, p.answer, p.latency_s, score, verdict, reason, chosen
            )
        )
    return results


async def _score(
    method: Method,
    question: str,
    expected: str,
    answers: list[str],
    embedder: Embedder | None,
    judge: JudgeScorer | None,
) -> list[Outcome]:
    if method == "numeric":
        return [score_numeric(expected.replace(",", ""), a, rel_tol=1e-6) for a in answers]
    if method == "exact":
        return [score_exact(expected, a) for a in answers]
    if method == "heuristic":
        return [score_fallback(expected, a) for a in answers]
    if method == "judge" and judge is not None:
        return list(await asyncio.gather(*(judge.score(question, expected, a) for a in answers)))
    if embedder is None:
        from tensornode.scoring.scorers.embedding import EmbeddingScorer

        embedder = EmbeddingScorer()
    return await asyncio.to_thread(embedder.score, [(expected, a) for a in answers])
