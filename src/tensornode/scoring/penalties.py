"""Rules that zero an answer whatever it would have scored: empty, echo, copying.

* empty: nothing but whitespace.
* echo: the reply is the prompt (or most of it): it contains the whole prompt with little
  added, or it is a fragment of at least 60% of the prompt, or it is a near-copy
  (difflib ratio >= 0.9 at comparable length). An echo of an open question would
  otherwise score well on embedding similarity, since question and answer share words.
* copying (open prompts only): answers identical after :func:`~.scorers.text.loose`
  normalisation (case, punctuation, whitespace) in a group of ``min_group`` or more,
  when the answer has at least ``min_words`` words; short factual answers ("Paris.")
  legitimately coincide and are exempt. Every miner answers its own questions, so a
  shared long answer is a canned or copied one; the answer that arrived *first* keeps
  its score (an honest miner is never penalised for being copied), the later ones from
  *other* miners are copies. A miner repeating its own answer (the same bank question
  drawn twice) copies nobody: only answers of two or more miners make a group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping
from difflib import SequenceMatcher
from typing import TypeVar

from tensornode.scoring.scorers.text import loose

K = TypeVar("K", bound=Hashable)


def is_empty(answer: str) -> bool:
    """True for an empty or whitespace-only answer."""
    return not answer.strip()


def echoes_prompt(prompt: str, answer: str) -> bool:
    """True when ``answer`` is the prompt, most of it, or the prompt with little added."""
    p, a = loose(prompt), loose(answer)
    if not p or not a:
        return False
    if p in a:
        return len(a) - len(p) <= 0.25 * len(p) + 12
    if a in p:
        return len(a) >= 0.6 * len(p)
    if 0.8 <= len(a) / len(p) <= 1.25:
        matcher = SequenceMatcher(None, p, a, autojunk=False)
        return matcher.real_quick_ratio() >= 0.9 and matcher.ratio() >= 0.9
    return False


def find_copies(
    answers: Mapping[K, str],
    *,
    first: Callable[[K], float],
    author: Callable[[K], Hashable] = lambda key: key,
    min_words: int = 6,
    min_group: int = 2,
) -> dict[K, K]:
    """copy -> the original it repeats, among ``answers`` (key -> answer text).

    The original of a group is the one ``first`` ranks lowest (its arrival); answers
    by the original's ``author`` are never copies, and a group needs ``min_group``
    distinct authors."""
    groups: dict[str, list[K]] = defaultdict(list)
    for key, answer in answers.items():
        text = loose(answer)
        if len(text.split()) >= min_words:
            groups[text].append(key)
    copies: dict[K, K] = {}
    for keys in groups.values():
        if len({author(k) for k in keys}) < min_group:
            continue
        original, *rest = sorted(keys, key=first)
        copies.update((k, original) for k in rest if author(k) != author(original))
    return copies
