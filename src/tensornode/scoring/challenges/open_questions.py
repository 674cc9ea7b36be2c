"""Open questions with reference answers, from a question bank.

No answer key a miner can read decides a score: the set shipped in the package
(``scoring/data/open_questions.jsonl``) is a public *sample* (the bank format, the
embedding scorer's calibration, tests), never used by a round. Scored rounds draw open
questions only from a private bank an operator loads (``validator.question_bank``, a
JSONL file of the same shape: one object per line with ``id``, ``question``,
``reference`` and optionally ``paraphrase``); without one, rounds are generated tasks
only. Each draw wraps the question in a random framing with an instruction placed
before or after it, so the exact prompt is not cacheable. Scored by embedding similarity
(or the judge), not here.
"""

from __future__ import annotations

import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from tensornode.errors import InvalidInput
from tensornode.scoring.challenges.base import Family, Task

FRAMINGS = (
    "{q}",
    "Question: {q}",
    "Can you answer this? {q}",
    "I have a question. {q}",
    "Quick one: {q}",
    "Help me understand something. {q}",
)
INSTRUCTIONS = (
    "Answer in one or two sentences.",
    "Keep the answer short.",
    "Please be concise.",
    "Explain briefly.",
    "",
)


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """One question with its reference answer and (optionally) a paraphrase of it."""

    id: str
    question: str
    reference: str
    paraphrase: str = ""


def _parse(lines: Sequence[str], source: str) -> tuple[OpenQuestion, ...]:
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            item = OpenQuestion(
                id=str(row["id"]),
                question=str(row["question"]),
                reference=str(row["reference"]),
                paraphrase=str(row.get("paraphrase", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{source} line {number}: not a question ({exc})") from None
        if not item.question.strip() or not item.reference.strip():
            raise InvalidInput(f"{source} line {number}: empty question or reference")
        out.append(item)
    if not out:
        raise InvalidInput(f"{source}: no questions")
    return tuple(out)


@dataclass(frozen=True, slots=True)
class QuestionBank:
    """Open questions a round may draw from (keep a scoring bank private)."""

    questions: tuple[OpenQuestion, ...]

    @classmethod
    def load(cls, path: Path) -> QuestionBank:
        """Read a JSONL bank; :class:`InvalidInput` names the bad line."""
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot read question bank {path}: {exc.strerror}") from None
        return cls(_parse(text.splitlines(), str(path)))

    def task(self, rng: random.Random, *, avoid: Collection[str] = ()) -> Task:
        """One question in a random framing, with its reference as the expected answer;
        not one whose question is in ``avoid`` while the bank has others."""
        fresh = [q for q in self.questions if q.question not in avoid]
        item = rng.choice(fresh or self.questions)
        parts = [rng.choice(FRAMINGS).format(q=item.question), rng.choice(INSTRUCTIONS)]
        rng.shuffle(parts)
        prompt = " ".join(p for p in parts if p)
        return Task(prompt, item.reference, question=item.question)

    def find(self, prompt: str) -> OpenQuestion | None:
        """The bank's question a prompt wraps, if any."""
        return next((q for q in self.questions if q.question in prompt), None)


@cache
def sample_bank() -> QuestionBank:
    """The public sample shipped in the package (never scored: every miner can read it)."""
    text = resources.files("tensornode.scoring").joinpath("data/open_questions.jsonl")
    return QuestionBank(_parse(text.read_text("utf-8").splitlines(), "shipped sample"))


def load_questions() -> tuple[OpenQuestion, ...]:
    """The shipped sample's questions."""
    return sample_bank().questions


def find_question(prompt: str) -> OpenQuestion | None:
    """The shipped sample's question a prompt wraps, if any."""
    return sample_bank().find(prompt)


def _generate(rng: random.Random) -> Task:
    return sample_bank().task(rng)


def _solve(prompt: str) -> str | None:
    item = find_question(prompt)
    return item.reference if item else None


FAMILY = Family("open", _generate, _solve, None)
"""Registered for its name and solver; rounds draw open tasks from a bank, not from it."""
