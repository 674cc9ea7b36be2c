"""Open questions with reference answers (``scoring/data/open_questions.jsonl``).

The project writes and ships the set: one JSON object per line with ``id``, ``question``,
``reference`` and ``paraphrase`` (a second wording of the reference, used to test that
the embedding scorer rewards meaning, not wording). Each round picks a question and wraps
it in a random framing with an instruction placed before or after it, so the exact
prompt is not cacheable. Scored by embedding similarity (or the judge), not here.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

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
    """One shipped question with its reference answer and a paraphrase of it."""

    id: str
    question: str
    reference: str
    paraphrase: str


@cache
def load_questions() -> tuple[OpenQuestion, ...]:
    """The shipped question set, read once from the package data."""
    text = resources.files("tensornode.scoring").joinpath("data/open_questions.jsonl")
    rows = [json.loads(line) for line in text.read_text("utf-8").splitlines() if line.strip()]
    return tuple(OpenQuestion(**row) for row in rows)


def generate(rng: random.Random) -> Task:
    item = rng.choice(load_questions())
    parts = [rng.choice(FRAMINGS).format(q=item.question), rng.choice(INSTRUCTIONS)]
    rng.shuffle(parts)
    prompt = " ".join(p for p in parts if p)
    return Task(prompt, item.reference, question=item.question)


def find_question(prompt: str) -> OpenQuestion | None:
    """The shipped question a prompt wraps, if any."""
    return next((q for q in load_questions() if q.question in prompt), None)


def solve(prompt: str) -> str | None:
    item = find_question(prompt)
    return item.reference if item else None


FAMILY = Family("open", generate, solve, None)
