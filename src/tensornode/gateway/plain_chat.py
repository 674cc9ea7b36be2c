"""The hot path's check that the miner API's ``ChatRequest`` would accept a dict as it
is: :func:`plainly_valid`, every field of exactly its type and in range, no model built.
What it doesn't plainly accept (an error to word, a value pydantic would coerce) goes
through the model; ``/api/chat`` (http_api.py) and completions (completion_call.py)
both read bodies this way.
"""

from __future__ import annotations

from typing import Any


def plainly_valid(data: dict[str, Any]) -> bool:
    """ChatRequest would accept ``data`` as it is: every field of exactly its type."""
    get = data.get
    prompt = get("prompt")
    if type(prompt) is not str or not prompt.strip():
        return False
    temperature = get("temperature", 0.7)
    if type(temperature) is not float and type(temperature) is not int:
        return False
    if not 0.0 <= temperature <= 2.0:
        return False
    max_tokens = get("max_tokens", 1)
    if type(max_tokens) is not int or max_tokens < 1:
        return False
    seed = get("seed")
    if seed is not None and type(seed) is not int:
        return False
    stop = get("stop")
    if (
        stop is not None
        and type(stop) is not str
        and (type(stop) is not list or any(type(s) is not str for s in stop))
    ):
        return False
    return (
        type(get("logprobs", False)) is bool
        and type(get("ignore_eos", False)) is bool
        and type(get("stream", False)) is bool
    )
