"""Challenge families (one module each) and their registry.

A new family is a module exposing ``FAMILY = Family(name, generate, solve, check)`` and a
line in :data:`FAMILIES`; a subnet names the families it mixes (``subnets/llm.py``).
"""

from __future__ import annotations

from tensornode.scoring.challenges import (
    arithmetic,
    counting,
    extraction,
    open_questions,
    sorting,
    strings,
    units,
)
from tensornode.scoring.challenges.base import Family, Task
from tensornode.scoring.challenges.phrasing import unframe

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        counting.FAMILY,
        sorting.FAMILY,
        strings.FAMILY,
        extraction.FAMILY,
        units.FAMILY,
        open_questions.FAMILY,
        arithmetic.FAMILY,  # last: its solver is the least specific
    )
}


def solve_prompt(prompt: str) -> str | None:
    """The right answer to any prompt a family generated, phrased or not (the scripted
    reference miner's brain)."""
    task = unframe(prompt)
    for family in FAMILIES.values():
        answer = family.solve(task)
        if answer is not None:
            return answer
    return None


__all__ = ["FAMILIES", "Family", "Task", "solve_prompt"]
