"""The prior TensorNode validator's heuristic, kept as the judge's fallback.

Integers in the truth found in the answer: all -> 100, >= 66% -> 75, >= 33% -> 40,
any -> 25; otherwise the normalised truth inside the answer -> 95; otherwise the share of
the truth's words found in the answer (at most 90). Returned on a 0..1 scale.
"""

from __future__ import annotations

import re

from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.text import drop_thousands, normalize, words_in

_INT = re.compile(r"-?\d+")


def score_fallback(truth: str, answer: str) -> Outcome:
    """Score ``answer`` against ``truth`` with the prior heuristic."""
    truth_ints = _INT.findall(drop_thousands(truth))
    if truth_ints:
        answer_ints = set(_INT.findall(drop_thousands(answer)))
        share = sum(1 for i in truth_ints if i in answer_ints) / len(truth_ints)
        for floor, points in ((1.0, 100), (0.66, 75), (0.33, 40)):
            if share >= floor:
                return Outcome(points / 100, f"heuristic: {share:.0%} of the numbers match")
        if share > 0:
            return Outcome(0.25, f"heuristic: {share:.0%} of the numbers match")
    want = normalize(truth)
    if want and want in normalize(answer):
        return Outcome(0.95, "heuristic: the expected answer appears in the reply")
    truth_words = set(words_in(truth))
    if not truth_words:
        return Outcome(0.0, "heuristic: nothing to compare")
    overlap = len(truth_words & set(words_in(answer))) / len(truth_words)
    return Outcome(round(0.9 * overlap, 4), f"heuristic: {overlap:.0%} word overlap")
