"""Rules that zero an answer whatever it would have scored: empty, echo, copying.

* empty: nothing but whitespace.
* echo: the reply is the prompt (or most of it): it contains the whole prompt with little
  added, or it is a fragment of at least 60% of the prompt, or it is a near-copy
  (difflib ratio >= 0.9 at comparable length). An echo of an open question would
  otherwise score well on embedding similarity, since question and answer share words.
* copying (open prompts only): answers identical after :func:`~.scorers.text.loose`
  normalisation (case, punctuation, whitespace) given by ``min_group`` or more miners,
  when the answer has at least ``min_words`` words; short factual answers ("Paris.")
  legitimately coincide and are exempt. The original cannot be told from the copies
  inside one round, so the whole group scores zero; honest miners sample their own
  wording and do not collide on answers of several sentences.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from difflib import SequenceMatcher

from tensornode.scoring.scorers.text import loose


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
    answers: Mapping[str, str], *, min_words: int = 6, min_group: int = 2
) -> dict[str, int]:
    """miner id -> size of its copy group, for miners whose answer others share verbatim."""
    groups: dict[str, list[str]] = defaultdict(list)
    for miner_id, answer in answers.items():
        key = loose(answer)
        if len(key.split()) >= min_words:
            groups[key].append(miner_id)
    return {m: len(ids) for ids in groups.values() if len(ids) >= min_group for m in ids}
