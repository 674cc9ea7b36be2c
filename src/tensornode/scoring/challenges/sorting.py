"""Sorting: numbers ascending or descending, words alphabetically."""

from __future__ import annotations

import random
import re

from tensornode.scoring.challenges.base import WORDS, Family, Task
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.exact import score_sequence

_NUMBERS = re.compile(r"Sort these numbers in (ascending|descending) order: ([\d, ]+)\.")
_WORDS = re.compile(r"Sort these words alphabetically: ([a-z, ]+)\.")
SUFFIX = " Reply with the sorted list, separated by commas."


def generate(rng: random.Random) -> Task:
    if rng.random() < 0.6:
        numbers = rng.sample(range(1, 1000), rng.randint(5, 9))
        direction = rng.choice(("ascending", "descending"))
        ordered = sorted(numbers, reverse=direction == "descending")
        prompt = f"Sort these numbers in {direction} order: {', '.join(map(str, numbers))}."
        return Task(prompt + SUFFIX, ", ".join(map(str, ordered)))
    words = rng.sample(WORDS, rng.randint(4, 7))
    prompt = f"Sort these words alphabetically: {', '.join(words)}."
    return Task(prompt + SUFFIX, ", ".join(sorted(words)))


def solve(prompt: str) -> str | None:
    if m := _NUMBERS.search(prompt):
        numbers = [int(n) for n in m.group(2).split(",")]
        return ", ".join(map(str, sorted(numbers, reverse=m.group(1) == "descending")))
    if m := _WORDS.search(prompt):
        return ", ".join(sorted(w.strip() for w in m.group(1).split(",")))
    return None


def check(expected: str, reply: str) -> Outcome:
    return score_sequence(expected, reply)


FAMILY = Family("sorting", generate, solve, check)
