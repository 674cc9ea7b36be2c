"""String transforms on made-up words: reverse, drop vowels, replace a letter, acronym."""

from __future__ import annotations

import random
import re

from tensornode.scoring.challenges.base import WORDS, Family, Task, pseudo_word
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.exact import score_exact

_REVERSE = re.compile(r'Reverse the string "(\w+)"\.')
_VOWELS = re.compile(r'Remove every vowel \(a, e, i, o, u\) from "(\w+)"\.')
_REPLACE = re.compile(r'Replace every "(\w)" with "(\w)" in "(\w+)"\.')
_ACRONYM = re.compile(r'Write the first letters of the words in "([a-z ]+)" as one word\.')
SUFFIX = " Reply with the result only."


def _drop_vowels(word: str) -> str:
    return "".join(ch for ch in word if ch not in "aeiou")


def generate(rng: random.Random) -> Task:
    word = pseudo_word(rng, rng.randint(3, 5))
    form = rng.randrange(4)
    if form == 0:
        return Task(f'Reverse the string "{word}".' + SUFFIX, word[::-1])
    if form == 1:
        prompt = f'Remove every vowel (a, e, i, o, u) from "{word}".'
        return Task(prompt + SUFFIX, _drop_vowels(word))
    if form == 2:
        old = rng.choice(sorted(set(word)))
        new = rng.choice([c for c in "xyzqjw" if c not in word] or ["x"])
        prompt = f'Replace every "{old}" with "{new}" in "{word}".'
        return Task(prompt + SUFFIX, word.replace(old, new))
    phrase = " ".join(rng.sample(WORDS, rng.randint(4, 7)))
    prompt = f'Write the first letters of the words in "{phrase}" as one word.'
    return Task(prompt + SUFFIX, "".join(w[0] for w in phrase.split()))


def solve(prompt: str) -> str | None:
    if m := _REVERSE.search(prompt):
        return m.group(1)[::-1]
    if m := _VOWELS.search(prompt):
        return _drop_vowels(m.group(1))
    if m := _REPLACE.search(prompt):
        return m.group(3).replace(m.group(1), m.group(2))
    if m := _ACRONYM.search(prompt):
        return "".join(w[0] for w in m.group(1).split())
    return None


def check(expected: str, reply: str) -> Outcome:
    return score_exact(expected, reply)


FAMILY = Family("strings", generate, solve, check)
