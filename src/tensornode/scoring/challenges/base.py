"""What a challenge family is: a generator from a seeded RNG, a solver, a checker.

A family generates a :class:`Task` (prompt + expected answer) from a ``random.Random``,
so the same seed gives the same task and a fresh secret seed gives a task nobody saw
before. ``solve`` reads a prompt of the family back and answers it (the reference miner
in tests and the benchmark answers with it); it returns ``None`` for other prompts.
``check`` scores a reply against the expected answer; open families have none (they are
scored by embedding similarity or the judge).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from tensornode.scoring.schemas import Outcome


@dataclass(frozen=True, slots=True)
class Task:
    """A generated prompt and its expected (or reference) answer."""

    prompt: str
    expected: str
    question: str | None = None


@dataclass(frozen=True, slots=True)
class Family:
    """One kind of challenge, registered by name in :data:`challenges.FAMILIES`."""

    name: str
    generate: Callable[[random.Random], Task]
    solve: Callable[[str], str | None]
    check: Callable[[str, str], Outcome] | None = None

    @property
    def open(self) -> bool:
        return self.check is None


WORDS = tuple(
    dict.fromkeys(
        [
            "apple",
            "river",
            "mountain",
            "candle",
            "garden",
            "silver",
            "window",
            "planet",
            "orange",
            "forest",
            "bridge",
            "rocket",
            "violin",
            "dragon",
            "pencil",
            "marble",
            "harbor",
            "lantern",
            "meadow",
            "ocean",
            "pepper",
            "quartz",
            "rabbit",
            "saddle",
            "tiger",
            "umbrella",
            "velvet",
            "walnut",
            "yellow",
            "zebra",
            "anchor",
            "basket",
            "cactus",
            "desert",
            "engine",
            "falcon",
            "glacier",
            "hammer",
            "island",
            "jacket",
            "kettle",
            "lemon",
            "mirror",
            "needle",
            "olive",
            "parrot",
            "quiver",
            "ribbon",
            "spider",
            "tunnel",
            "valley",
            "wagon",
            "yogurt",
            "blanket",
            "cotton",
            "dolphin",
            "feather",
            "ginger",
            "helmet",
            "insect",
            "jungle",
            "kitten",
            "ladder",
            "magnet",
            "napkin",
            "oyster",
            "puzzle",
            "salmon",
            "thunder",
            "unicorn",
            "vessel",
            "whistle",
        ]
    )
)

SYLLABLES = [
    "ba",
    "be",
    "bi",
    "bo",
    "bu",
    "ka",
    "ke",
    "ki",
    "ko",
    "ku",
    "la",
    "le",
    "li",
    "lo",
    "lu",
    "ma",
    "me",
    "mi",
    "mo",
    "mu",
    "na",
    "ne",
    "ni",
    "no",
    "nu",
    "ra",
    "re",
    "ri",
    "ro",
    "ru",
    "sa",
    "se",
    "si",
    "so",
    "su",
    "ta",
    "te",
    "ti",
    "to",
    "tu",
    "za",
    "ze",
    "zi",
    "zo",
    "zu",
    "dra",
    "tre",
    "plo",
    "gru",
]


def pseudo_word(rng: random.Random, syllables: int) -> str:
    """A pronounceable made-up word: never in any cache or training set as an answer."""
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))
