"""JSON on the gateway's hot path: orjson, with the standard library's exact semantics.

:func:`loads` parses with orjson and, for what orjson refuses (malformed input, but also
``NaN``, integers beyond 64 bits, lone surrogates, which :mod:`json` accepts), falls back
to :func:`json.loads`, so an input means what it meant before; only speed differs. Lone
surrogates and very deep nesting are refused (:class:`UnsafeJSON`): a miner cannot encode
the one (it answered 500) and the standard library recurses on the other.
:func:`dumps` writes compact UTF-8 JSON (``json.loads`` reads back the same values).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class UnsafeJSON(ValueError):
    """JSON that parses but cannot be passed on: a lone surrogate (not Unicode, so no
    miner can encode it), or nesting deeper than orjson's limit."""


def loads(data: bytes) -> Any:
    """``json.loads(data)``, faster; ValueError when it is not JSON, UnsafeJSON when it
    holds a lone surrogate or is nested too deeply to pass on."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "surrogate" in reason:
            raise UnsafeJSON(
                "a string holds a lone surrogate (\\ud800-\\udfff): not Unicode"
            ) from None
        if "depth limit" in reason or "recursion" in reason:
            raise UnsafeJSON("JSON nested too deeply") from None
        return json.loads(data)


def dumps(value: Any) -> bytes:
    """Compact JSON of dicts, lists, strings, numbers, booleans and None."""
    return orjson.dumps(value)
