"""Exact matches after normalisation: a string, a sorted list, a JSON object's fields."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.text import (
    answer_candidate,
    normalize,
    numbers_in,
    words_in,
)


def score_exact(expected: str, reply: str) -> Outcome:
    """1.0 when the whole reply or its answer candidate equals ``expected`` (normalised)."""
    want = normalize(expected)
    candidate = answer_candidate(reply)
    for text in (reply, candidate):
        if normalize(text) == want:
            return Outcome(1.0, "exact match")
    return Outcome(0.0, f"expected {expected!r}, got {candidate[:60]!r}")


def score_sequence(expected: str, reply: str) -> Outcome:
    """Lists: compare the *last* k items of the reply with the k expected items.

    Numbers when the expected list is numeric, words otherwise; so a reply that restates
    the input before giving the sorted list still scores, a guess list does not.
    """
    items = [s.strip() for s in expected.split(",")]
    numeric = all(_is_number(s) for s in items)
    if numeric:
        want_n = [float(s) for s in items]
        got_n = numbers_in(reply)[-len(want_n) :]
        ok = len(got_n) == len(want_n) and all(
            math.isclose(a, b) for a, b in zip(got_n, want_n, strict=True)
        )
        shown = ", ".join(f"{v:g}" for v in got_n)
    else:
        want_w = [w.casefold() for w in items]
        got_w = words_in(reply)[-len(want_w) :]
        ok = got_w == want_w
        shown = ", ".join(got_w)
    if ok:
        return Outcome(1.0, "list matches")
    return Outcome(0.0, f"expected [{expected}], got [{shown[:80]}]")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def first_json_object(reply: str) -> dict[str, Any] | None:
    """The first ``{...}`` in ``reply`` that parses as a JSON object (fences allowed)."""
    decoder = json.JSONDecoder()
    start = reply.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(reply, start)
        except ValueError:
            start = reply.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = reply.find("{", start + 1)
    return None


def _same_value(want: Any, got: Any) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return bool(want == got)
    if isinstance(want, int | float):
        try:
            return math.isclose(float(want), float(str(got).replace(",", "")), abs_tol=1e-9)
        except ValueError:
            return False
    return normalize(str(want)) == normalize(str(got))


def score_json_fields(expected: str, reply: str) -> Outcome:
    """Share of the expected JSON object's fields the reply's first JSON object gets right.

    Keys compare case-insensitively; strings after normalisation; numbers numerically
    (``"34"`` counts for 34).
    """
    want: Mapping[str, Any] = json.loads(expected)
    got = first_json_object(reply)
    if got is None:
        return Outcome(0.0, "no JSON object in the answer")
    got_cf = {str(k).casefold(): v for k, v in got.items()}
    wrong = [k for k, v in want.items() if k not in got_cf or not _same_value(v, got_cf[k])]
    score = (len(want) - len(wrong)) / len(want)
    if not wrong:
        return Outcome(1.0, "all fields match")
    return Outcome(score, f"fields wrong or missing: {', '.join(wrong)}")
