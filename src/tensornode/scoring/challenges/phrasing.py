"""Varied natural phrasing around a generated task, so no template marks a probe.

Each planned challenge gets a lead-in and a closing drawn from the seed (often none,
as in users' own messages), in the tone users write to a chat model: a probe reads like
one of many requests, not like a line a regex recognises. Solvers (the reference miner
in tests and benchmarks) read the task back with :func:`unframe`.
"""

from __future__ import annotations

import random

LEAD_INS = (
    "", "", "", "Hi! ", "Hey, ", "Quick question: ", "Can you help me with this? ",
    "I'm stuck on something. ", "Please help: ", "My friend asked me this. ",
    "For a homework check: ", "I need this for work. ", "Hello. ", "Small task for you. ",
    "Could you do this for me? ", "OK here goes. ", "Let's see if you can do this. ",
    "I was wondering. ", "Settle a bet for us. ", "Need a hand here. ",
)  # fmt: skip
CLOSINGS = (
    "", "", "", " Thanks!", " Thank you.", " Cheers.", " Much appreciated.", " Thanks a lot!",
    " Be quick please.", " No explanation needed.", " Just the answer, please.",
    " Thanks in advance.", " :)", " Appreciate it.", " Thx.",
)  # fmt: skip


def phrase(rng: random.Random, task: str) -> str:
    """``task`` with a lead-in and a closing drawn from ``rng`` (either may be empty)."""
    return f"{rng.choice(LEAD_INS)}{task}{rng.choice(CLOSINGS)}"


def unframe(prompt: str) -> str:
    """The task inside a phrased prompt (the prompt itself when it has no framing)."""
    for lead in sorted(filter(None, LEAD_INS), key=len, reverse=True):
        if prompt.startswith(lead):
            prompt = prompt[len(lead) :]
            break
    for closing in sorted(filter(None, CLOSINGS), key=len, reverse=True):
        if prompt.endswith(closing):
            prompt = prompt[: -len(closing)]
            break
    return prompt
