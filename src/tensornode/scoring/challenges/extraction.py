"""Extraction into JSON: a person's name, age, city and job from a generated sentence.

Scored per field (share of fields right), so a reply with three of four fields right
scores 0.75.
"""

from __future__ import annotations

import json
import random
import re

from tensornode.scoring.challenges.base import Family, Task
from tensornode.scoring.schemas import Outcome
from tensornode.scoring.scorers.exact import score_json_fields

FIRST = [
    "Maria",
    "Chen",
    "Amara",
    "Lukas",
    "Sofia",
    "Tomas",
    "Ingrid",
    "Kofi",
    "Yuki",
    "Rafael",
    "Leila",
    "Omar",
    "Priya",
    "Elena",
]
LAST = [
    "Lopez",
    "Novak",
    "Okafor",
    "Tanaka",
    "Silva",
    "Larsen",
    "Haddad",
    "Ivanova",
    "Mensah",
    "Rossi",
    "Kim",
    "Dubois",
]
CITIES = [
    "Lisbon",
    "Nairobi",
    "Osaka",
    "Toronto",
    "Krakow",
    "Lima",
    "Hanoi",
    "Oslo",
    "Accra",
    "Seville",
    "Melbourne",
]
JOBS = [
    "nurse",
    "carpenter",
    "pilot",
    "chemist",
    "teacher",
    "baker",
    "architect",
    "librarian",
    "welder",
    "chef",
]
SENTENCES = (
    "{name} is {age} years old and lives in {city}, where they work as a {job}.",
    "Born {age} years ago, {name} now works as a {job} in {city}.",
    "{name}, a {age}-year-old {job}, moved to {city} last year.",
    "In {city} you can meet {name}, a {job} who turned {age} this spring.",
)
PROMPT = (
    "Extract the person's name, age, city and job from the text below. Reply with a JSON "
    'object with the keys "name", "age", "city" and "job".\nText: {text}'
)
_GROUPS = {
    "name": r"(?P<name>[A-Z][a-z]+ [A-Z][a-z]+)",
    "age": r"(?P<age>\d+)",
    "city": r"(?P<city>[A-Z][a-z]+)",
    "job": r"(?P<job>[a-z]+)",
}
_PATTERNS = tuple(
    re.compile(re.sub(r"\\\{(\w+)\\\}", lambda m: _GROUPS[m.group(1)], re.escape(s)))
    for s in SENTENCES
)


def generate(rng: random.Random) -> Task:
    fields = {
        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "age": rng.randint(19, 78),
        "city": rng.choice(CITIES),
        "job": rng.choice(JOBS),
    }
    text = rng.choice(SENTENCES).format(**fields)
    return Task(PROMPT.format(text=text), json.dumps(fields))


def solve(prompt: str) -> str | None:
    if not prompt.startswith("Extract the person's name"):
        return None
    text = prompt.rsplit("Text: ", 1)[-1]
    for pattern in _PATTERNS:
        if m := pattern.fullmatch(text):
            found = m.groupdict()
            ordered = {k: int(found[k]) if k == "age" else found[k] for k in _GROUPS}
            return json.dumps(ordered)
    return None


def check(expected: str, reply: str) -> Outcome:
    return score_json_fields(expected, reply)


FAMILY = Family("extraction", generate, solve, check)
