"""Counting: letters in a made-up string, words in a sentence, even numbers in a list."""

from __future__ import annotations

import random
import re

from tensornode.scoring.challenges.base import WORDS, Family, Task
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.numeric import score_numeric

_LETTERS = re.compile(r'How many times does the letter "(\w)" appear in "(\w+)"\?')
_WORDS = re.compile(r'How many words are in the following sentence\? "([^"]+)"')
_EVENS = re.compile(r"How many of these numbers are even: ([\d, ]+)\?")


def generate(rng: random.Random) -> Task:
    form = rng.randrange(3)
    if form == 0:
        text = "".join(rng.choice("abcdefgh") for _ in range(rng.randint(14, 24)))
        letter = rng.choice(text)
        prompt = f'How many times does the letter "{letter}" appear in "{text}"?'
        return Task(prompt, str(text.count(letter)))
    if form == 1:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        prompt = f'How many words are in the following sentence? "{sentence}"'
        return Task(prompt, str(len(sentence.split())))
    numbers = [rng.randint(1, 99) for _ in range(rng.randint(8, 14))]
    prompt = f"How many of these numbers are even: {', '.join(map(str, numbers))}?"
    return Task(prompt, str(sum(1 for n in numbers if n % 2 == 0)))


def solve(prompt: str) -> str | None:
    if m := _LETTERS.search(prompt):
        return str(m.group(2).count(m.group(1)))
    if m := _WORDS.search(prompt):
        return str(len(m.group(1).split()))
    if m := _EVENS.search(prompt):
        return str(sum(1 for n in m.group(1).split(",") if int(n) % 2 == 0))
    return None


def check(expected: str, reply: str) -> Outcome:
    return score_numeric(expected, reply)


FAMILY = Family("counting", generate, solve, check)
