"""Grading real gateway traffic: a miner that serves users worse than probes loses.

Probes alone can be gamed by a miner that recognises them. So the gateway keeps a
sampled share of the requests it answered (:class:`TrafficSampler`,
``validator.traffic_sample_rate``), and each in-process validator round re-asks those
same prompts, through the same client and with the same bytes, to up to
``references`` other miners that passed most of this round's probes
(:func:`grade_traffic`). The served answer is then compared with theirs:

* an empty answer or an echo of the prompt fails at once;
* when two references agree with each other (a consensus) and the served answer agrees
  with none of the agreeing ones, it fails: two good miners said otherwise;
* when it agrees with a consensus answer, it passes;
* with no consensus (references disagree, fail, or are too few) the sample is left
  ungraded: one dissenting miner is never enough to fail an answer.

"Agree" means the same text after normalisation, the same number, or an embedding score
of ``AGREEMENT`` or more. Each graded sample is :class:`Evidence` of family
``traffic``; the share that passed is the miner's *consistency*, which multiplies its
total (:mod:`.components`), and "why is my score" names it.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tensornode.scoring.grading import Embedder
from tensornode.scoring.penalties import echoes_prompt, is_empty
from tensornode.scoring.probe import ProbeClient, send_probe
from tensornode.scoring.schemas import TRAFFIC_FAMILY, Evidence, MinerTarget, challenge_hash
from tensornode.scoring.scorers.text import loose

AGREEMENT = 0.6
"""Embedding score (baseline-corrected) from which two answers say the same thing."""
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class TrafficSample:
    """One answered user request: who answered, what was asked, what it said."""

    miner_id: str
    model_type: str
    body: Mapping[str, Any]
    answer: str

    @property
    def prompt(self) -> str:
        prompt = self.body.get("prompt")
        return prompt if isinstance(prompt, str) else ""


class TrafficSampler:
    """Keeps a random ``rate`` share of answered requests, at most ``capacity`` (the
    oldest go first); the validator loop takes them each round. In memory only: user
    prompts are never stored."""

    def __init__(
        self, rate: float, *, capacity: int = 256, rng: random.Random | None = None
    ) -> None:
        self.rate = rate
        self._rng = rng or random.Random()
        self._samples: deque[TrafficSample] = deque(maxlen=capacity)

    def offer(self, miner_id: str, model_type: str, payload: bytes, answer: str) -> None:
        """Maybe keep this answered request (``payload``: the chat body sent)."""
        if self.draw():
            self.keep(miner_id, model_type, payload, answer)

    def draw(self) -> bool:
        """Whether the request about to be answered is one to keep (a stream decides
        this at its start, so only kept streams collect their text)."""
        return self.rate > 0 and self._rng.random() < self.rate

    def keep(self, miner_id: str, model_type: str, payload: bytes, answer: str) -> None:
        """Keep this answered request. A streamed one is kept as its plain request: the
        references re-asked answer it whole, and the streamed text is what is graded."""
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return  # the gateway only forwards JSON it parsed: nothing to grade
        if isinstance(body, dict):
            body.pop("stream", None)
            self._samples.append(TrafficSample(miner_id, model_type, body, answer))

    def take(self, limit: int) -> list[TrafficSample]:
        """Up to ``limit`` samples, oldest first, removed from the sampler."""
        return [self._samples.popleft() for _ in range(min(limit, len(self._samples)))]

    def __len__(self) -> int:
        return len(self._samples)


@dataclass(frozen=True, slots=True)
class TrafficOptions:
    references: int = 3
    timeout: float = 10.0
    evidence_chars: int = 200
    reference_pass_share: float = 0.75  # a reference passed at least this share of probes


@dataclass
class _Comparer:
    embedder: Embedder | None
    cache: dict[tuple[str, str], bool] = field(default_factory=dict)

    def agree(self, a: str, b: str) -> bool:
        key = (a, b) if a <= b else (b, a)
        if key not in self.cache:
            self.cache[key] = self._agree(*key)
        return self.cache[key]

    def _agree(self, a: str, b: str) -> bool:
        la, lb = loose(a), loose(b)
        if not la or not lb:
            return False
        if la == lb:
            return True
        na: list[str] = _NUMBER.findall(a)
        nb: list[str] = _NUMBER.findall(b)
        if na and nb and len(la.split()) <= 4 and len(lb.split()) <= 4:
            return na[-1] == nb[-1]
        if self.embedder is None:
            return False
        return bool(self.embedder.score([(a, b)])[0].score >= AGREEMENT)


def _consensus(answers: Sequence[str], compare: _Comparer) -> list[str]:
    """The reference answers that agree with at least one other reference."""
    return [
        a
        for i, a in enumerate(answers)
        if any(compare.agree(a, b) for j, b in enumerate(answers) if i != j)
    ]


def _verdict(
    sample: TrafficSample, references: Sequence[str], compare: _Comparer
) -> tuple[bool, str] | None:
    """(passed, reason), or None when the sample cannot be graded."""
    answer = sample.answer
    if is_empty(answer):
        return False, "a user got an empty answer"
    if echoes_prompt(sample.prompt, answer):
        return False, "a user's prompt was echoed back"
    agreed = _consensus(references, compare)
    if not agreed:
        return None
    if any(compare.agree(answer, ref) for ref in agreed):
        return True, f"a user's answer agreed with {len(agreed)} other miners"
    return False, (
        f"served users worse than probes: a user's answer disagreed with {len(agreed)} "
        "other miners that agreed with each other"
    )


async def grade_traffic(
    round_id: str,
    samples: Sequence[TrafficSample],
    references: Sequence[MinerTarget],
    *,
    client: ProbeClient,
    embedder: Embedder | None,
    options: TrafficOptions,
) -> list[Evidence]:
    """Evidence for each gradable sample (see the module docstring); ``references`` are
    the candidate miners in order of preference (this round's best)."""
    compare = _Comparer(embedder)

    async def one(index: int, sample: TrafficSample) -> Evidence | None:
        others = [t for t in references if t.miner_id != sample.miner_id][: options.references]
        replies = await asyncio.gather(
            *(send_probe(client, t, dict(sample.body), timeout=options.timeout) for t in others)
        )
        answers = [r.answer for r in replies if r.status == "ok" and r.answer]
        verdict = await asyncio.to_thread(_verdict, sample, answers, compare)
        if verdict is None:
            return None
        passed, reason = verdict
        answer = sample.answer
        if len(answer) > options.evidence_chars:
            answer = answer[: options.evidence_chars - 1] + "\u2026"
        return Evidence(
            round_id=round_id,
            challenge_id=f"{round_id}-t{index}",
            challenge_hash=challenge_hash(round_id, sample.prompt, ""),
            family=TRAFFIC_FAMILY,
            miner_id=sample.miner_id,
            status="ok",
            answer=answer,
            latency_s=None,
            score=1.0 if passed else 0.0,
            verdict="pass" if passed else "fail",
            reason=reason,
        )

    graded = await asyncio.gather(*(one(i, s) for i, s in enumerate(samples)))
    return [e for e in graded if e is not None]


def best_references(
    evidence: Sequence[Evidence], targets: Sequence[MinerTarget], min_share: float
) -> list[MinerTarget]:
    """This round's miners that passed at least ``min_share`` of their probes, best first."""
    passed: dict[str, list[bool]] = {}
    for e in evidence:
        passed.setdefault(e.miner_id, []).append(e.passed)
    shares = {m: sum(v) / len(v) for m, v in passed.items() if v}
    good = [t for t in targets if shares.get(t.miner_id, 0.0) >= min_share]
    return sorted(good, key=lambda t: -shares[t.miner_id])
