"""validate_dockerfile: what counts as a Dockerfile, and the exact refusals."""

from __future__ import annotations

import pytest

from tensornode.errors import InvalidInput, PayloadTooLarge
from tensornode.runtimes.dockerfile import MAX_DOCKERFILE_BYTES, validate_dockerfile

GUIDE_TEMPLATE = b"""\
# Dockerfile for LLM Miner
FROM python:3.11-slim

# Install dependencies
RUN pip install torch transformers flask requests
COPY api/ /app/api/
EXPOSE 3000
CMD ["python", "api/server.py"]
"""


@pytest.mark.parametrize(
    "content",
    [
        GUIDE_TEMPLATE,
        b"FROM python:3.11-slim",  # no final newline
        b"from python:3.11-slim AS build\nrun echo hi\n",  # keywords are case-insensitive
        b"\xef\xbb\xbfFROM scratch\n",  # a UTF-8 byte-order mark
        b"# syntax=docker/dockerfile:1\n# escape=\\\n\n# a comment\n\n  FROM alpine\n",
        b"ARG PYTHON=3.11\nFROM python:${PYTHON}-slim\n",  # ARG may precede FROM
        b"ARG A=1 \\\n    B=2\n# between\nARG C\nFROM\tbusybox\n",  # continuations and tabs
        b"# escape=`\nARG A=1 `\n  B=2\nFROM busybox\n",  # the escape directive is honoured
        'FROM python:3.11-slim\nLABEL description="café ☕"\n'.encode(),
    ],
)
def test_dockerfiles_are_accepted(content: bytes) -> None:
    validate_dockerfile(content)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the Dockerfile is empty"),
        (b"  \n\n\t\n", "the Dockerfile is empty"),
        (b"# only\n# comments\n", "the Dockerfile has no instructions (only comments)"),
        (
            b"RUN pip install flask\nFROM python:3.11\n",
            "not a Dockerfile: its first instruction must be FROM, but line 1 is RUN",
        ),
        (
            b"# hello\n\nARG X=1\nRUN echo $X\nFROM python\n",
            "not a Dockerfile: after ARG, the next instruction must be FROM, but line 4 is RUN",
        ),
        (b"ARG X=1\n", "not a Dockerfile: it has ARG but no FROM"),
        (b"FROM\n", "the Dockerfile's FROM on line 1 names no image"),
        (
            b"<!DOCTYPE html>\n<html><body>404</body></html>\n",
            "not a Dockerfile: its first instruction must be FROM, but line 1 is <!DOCTYPE",
        ),
        (b"\xff\xfeF\x00R\x00", "the Dockerfile is not UTF-8 text (bad byte at 0)"),
        (b"FROM scratch\n\x00\x01", "the Dockerfile is not text: it contains NUL bytes"),
        (b"# escape=x\nFROM scratch\n", "the Dockerfile's escape directive is invalid"),
        (b"\\\n", "the Dockerfile has no instructions (only comments)"),
        (b"ARG A=1 \\\n", "not a Dockerfile: it has ARG but no FROM"),
    ],
)
def test_non_dockerfiles_are_refused_with_the_reason(content: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_dockerfile(content)
    assert caught.value.message.startswith(message)
    assert caught.value.status == 400


def test_a_dockerfile_over_the_size_limit_is_too_large() -> None:
    content = b"FROM scratch\n" + b"# padding\n" * (MAX_DOCKERFILE_BYTES // 10)
    with pytest.raises(PayloadTooLarge) as caught:
        validate_dockerfile(content)
    assert caught.value.status == 413
    assert caught.value.message == (
        f"the Dockerfile is {len(content)} bytes; at most {MAX_DOCKERFILE_BYTES} are accepted"
    )
    validate_dockerfile(content, max_bytes=len(content))
