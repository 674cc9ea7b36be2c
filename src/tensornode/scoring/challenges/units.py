"""Unit conversion: length, mass, volume, time and temperature; 1% tolerance."""

from __future__ import annotations

import random
import re

from tensornode.scoring.challenges.base import Family, Task
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.numeric import score_numeric

# (from, to) -> (factor, offset): to = from * factor + offset
CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("kilometres", "metres"): (1000.0, 0.0),
    ("metres", "centimetres"): (100.0, 0.0),
    ("miles", "kilometres"): (1.609344, 0.0),
    ("inches", "centimetres"): (2.54, 0.0),
    ("feet", "metres"): (0.3048, 0.0),
    ("kilograms", "grams"): (1000.0, 0.0),
    ("pounds", "kilograms"): (0.45359237, 0.0),
    ("litres", "millilitres"): (1000.0, 0.0),
    ("hours", "minutes"): (60.0, 0.0),
    ("days", "hours"): (24.0, 0.0),
    ("degrees Celsius", "degrees Fahrenheit"): (1.8, 32.0),
    ("degrees Fahrenheit", "degrees Celsius"): (5 / 9, -32 * 5 / 9),
}
_PROMPT = re.compile(r"Convert (-?[\d.]+) (.+?) to (.+?)\.")
SUFFIXES = ("", " Give the number only.", " Round to two decimals.")


def _fmt(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def generate(rng: random.Random) -> Task:
    (src, dst), (factor, offset) = rng.choice(sorted(CONVERSIONS.items()))
    value = rng.choice((rng.randint(2, 500), round(rng.uniform(0.5, 120.0), 1)))
    prompt = f"Convert {value} {src} to {dst}." + rng.choice(SUFFIXES)
    return Task(prompt, _fmt(value * factor + offset))


def solve(prompt: str) -> str | None:
    m = _PROMPT.search(prompt)
    if m is None or (m.group(2), m.group(3)) not in CONVERSIONS:
        return None
    factor, offset = CONVERSIONS[(m.group(2), m.group(3))]
    return _fmt(float(m.group(1)) * factor + offset)


def check(expected: str, reply: str) -> Outcome:
    return score_numeric(expected, reply, abs_tol=0.0101, rel_tol=0.01)


FAMILY = Family("units", generate, solve, check)
