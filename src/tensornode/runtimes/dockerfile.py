"""Dockerfiles users give us: checking one, and fetching one from a URL.

A Dockerfile is accepted when it is UTF-8 text (a byte-order mark is allowed), not
empty, at most ``max_bytes``, and its first instruction is ``FROM`` — or ``ARG`` lines
followed by ``FROM``, which Docker allows (``ARG PYTHON=3.11`` then
``FROM python:${PYTHON}-slim``) and is common enough that refusing it would surprise
users. Comments, blank lines and parser directives (``# syntax=...``, ``# escape=...``,
honoured for line continuations) are skipped. Only the start is checked: what follows is
for ``docker build`` to judge, and its output goes to the deployment's log.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx

from tensornode.errors import InvalidInput, PayloadTooLarge
from tensornode.net.safe_fetch import Resolver, fetch_limited

MAX_DOCKERFILE_BYTES = 256 * 1024

_DIRECTIVE = re.compile(r"^#\s*([A-Za-z][A-Za-z0-9]*)\s*=\s*(.*?)\s*$")
_BOM = "\ufeff"


def validate_dockerfile(content: bytes, *, max_bytes: int = MAX_DOCKERFILE_BYTES) -> None:
    """Raise InvalidInput (PayloadTooLarge if too big) unless ``content`` is a Dockerfile."""
    if len(content) > max_bytes:
        raise PayloadTooLarge(
            f"the Dockerfile is {len(content)} bytes; at most {max_bytes} are accepted"
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the Dockerfile is not UTF-8 text (bad byte at {exc.start})") from None
    text = text.removeprefix(_BOM)
    if "\x00" in text:
        raise InvalidInput("the Dockerfile is not text: it contains NUL bytes")
    if not text.strip():
        raise InvalidInput("the Dockerfile is empty")
    seen_arg = False
    for line_no, keyword, arguments in _instructions(text):
        if keyword == "ARG":
            seen_arg = True
            continue
        if keyword != "FROM":
            first = "after ARG, the next instruction" if seen_arg else "its first instruction"
            raise InvalidInput(
                f"not a Dockerfile: {first} must be FROM, but line {line_no} is {keyword}"
            )
        if not arguments:
            raise InvalidInput(f"the Dockerfile's FROM on line {line_no} names no image")
        return
    if seen_arg:
        raise InvalidInput("not a Dockerfile: it has ARG but no FROM")
    raise InvalidInput("the Dockerfile has no instructions (only comments)")


def _instructions(text: str) -> Iterator[tuple[int, str, str]]:
    """(line number, KEYWORD, arguments) of each instruction, continuations joined."""
    lines = text.splitlines()
    escape = "\\"
    start = 0
    # parser directives: only in the leading run of "# key=value" lines
    while start < len(lines) and (match := _DIRECTIVE.match(lines[start])):
        if match.group(1).lower() == "escape":
            if match.group(2) not in ("\\", "`"):
                raise InvalidInput(f"the Dockerfile's escape directive is invalid: {lines[start]}")
            escape = match.group(2)
        start += 1
    parts: list[str] = []
    first_line = 0
    for index in range(start, len(lines)):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            continue  # comments and blank lines, also inside a continued instruction
        if not parts:
            first_line = index + 1
        if stripped.endswith(escape):
            parts.append(stripped[: -len(escape)])
            continue
        parts.append(stripped)
        if words := " ".join(parts).split(None, 1):
            yield first_line, words[0].upper(), words[1].strip() if len(words) > 1 else ""
        parts = []
    if words := " ".join(parts).split(None, 1):  # a continuation at the very end
        yield first_line, words[0].upper(), words[1].strip() if len(words) > 1 else ""


async def fetch_dockerfile(
    url: str,
    *,
    allow_private: bool,
    max_bytes: int = MAX_DOCKERFILE_BYTES,
    timeout: float = 15.0,
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """Fetch a Dockerfile from ``url`` safely (see :mod:`tensornode.net.safe_fetch`).

    Raises InvalidInput with the reason: a refused URL or address, a redirect to one, an
    HTTP error, a timeout, a body over ``max_bytes`` (PayloadTooLarge), or content that
    is not a Dockerfile.
    """
    content = await fetch_limited(
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        timeout=timeout,
        what="Dockerfile URL",
        resolver=resolver,
        transport=transport,
    )
    validate_dockerfile(content, max_bytes=max_bytes)
    return content
