"""What ``miner check`` expects of each answer: field types, uptime text, usage counts.

Pure functions over parsed JSON, kept apart from the requests in :mod:`.check`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

KNOWN_MODEL_TYPES = ("llm", "vision", "speech", "translation")
"""The guide's model categories (one subnet each)."""


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_str_list(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(i, str) for i in v)


KINDS: dict[str, Callable[[object], bool]] = {
    "a string": lambda v: isinstance(v, str),
    "a boolean": lambda v: isinstance(v, bool),
    "an integer": _is_int,
    "a number": _is_number,
    "a list of strings": _is_str_list,
}
"""What a field must be, in words, and the test for it."""

HEALTH_FIELDS = {"status": "a string", "model_loaded": "a boolean", "uptime": "a string"}
INFO_FIELDS = {
    "model_name": "a string",
    "model_type": "a string",
    "version": "a string",
    "capabilities": "a list of strings",
    "max_context_length": "an integer",
}
CHAT_FIELDS = {"model": "a string", "timestamp": "a string", "processing_time": "a number"}
# (the answer itself is checked apart: `response`, or an older key with a warning)

HEALTH_EXTENSIONS = {
    "uptime_seconds": "a number",
    "queue_depth": "an integer",
    "version": "a string",
}
INFO_EXTENSIONS = {
    "max_concurrency": "an integer",
    "weights_sha256": "a string",
    "quantization": "a string",
    "device": "a string",
    "models": "a list of strings",
}
USAGE_FIELDS = {"prompt_tokens": "an integer", "completion_tokens": "an integer"}


def json_type(value: object) -> str:
    """The JSON name of a parsed value's type, with its article: ``a string``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def field_problems(body: Mapping[str, object], spec: Mapping[str, str]) -> list[str]:
    """``missing 'uptime'`` or ``'model_loaded' is a string, expected a boolean``, per field."""
    problems = []
    for name, kind in spec.items():
        if name not in body:
            problems.append(f"missing {name!r}")
        elif not KINDS[kind](body[name]):
            problems.append(f"{name!r} is {json_type(body[name])}, expected {kind}")
    return problems


_UPTIME = re.compile(
    r"^\s*(?:(?P<d>\d+)\s*d(?:ays?)?)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?"
    r"\s*(?:(?P<s>\d+(?:\.\d+)?)\s*s)?\s*$"
)


def parse_uptime(text: str) -> float | None:
    """Seconds in an uptime like ``2h 15m 30s`` (``1d 2h``, ``45s`` too); None otherwise."""
    match = _UPTIME.match(text)
    if match is None or not any(match.groupdict().values()):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (
        parts.get("d", 0.0) * 86_400
        + parts.get("h", 0.0) * 3600
        + parts.get("m", 0.0) * 60
        + parts.get("s", 0.0)
    )


def usage_problem(usage: object, max_tokens: int) -> str | None:
    """Why a chat answer's ``usage`` falls short (it is optional: a warning), or None."""
    if usage is None:
        return "no 'usage' token counts (optional; the gateway then reports zeros)"
    if not isinstance(usage, dict):
        return f"'usage' is {json_type(usage)}, expected an object"
    problems = field_problems(usage, USAGE_FIELDS)
    if problems:
        return "usage: " + "; ".join(problems)
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    total = usage.get("total_tokens", prompt + completion)
    if total != prompt + completion:
        return f"usage: total_tokens {total} is not {prompt} + {completion}"
    if completion > max_tokens:
        return f"usage: completion_tokens {completion} exceeds the max_tokens {max_tokens} asked"
    if prompt < 0 or completion < 0:
        return "usage: negative token counts"
    return None
