"""Numeric match: the reply's answer number against the expected one, with a tolerance."""

from __future__ import annotations

import math

from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.text import extract_number


def _fmt(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"


def score_numeric(
    expected: str, reply: str, *, abs_tol: float = 1e-9, rel_tol: float = 0.0
) -> Outcome:
    """1.0 when the extracted number is within ``max(abs_tol, rel_tol*|expected|)``, else 0."""
    want = float(expected)
    got = extract_number(reply)
    if got is None:
        return Outcome(0.0, f"no number found; expected {expected}")
    tolerance = max(abs_tol, rel_tol * abs(want))
    if math.isfinite(got) and abs(got - want) <= tolerance + 1e-12:
        return Outcome(1.0, f"numeric match: {_fmt(got)}")
    return Outcome(0.0, f"expected {expected}, got {_fmt(got)}")
