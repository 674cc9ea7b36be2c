"""Probe classification: answer keys, malformed replies, oversized bodies, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from tensornode.gateway.upstream import HttpxUpstream
from tensornode.scoring import MinerTarget
from tensornode.scoring.probe import ProbeClient, answer_from, send_probe

TARGET = MinerTarget("m1", "http://miner.test:3000")


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"response": "a", "text": "b"}, "a"),
        ({"text": "b"}, "b"),
        ({"message": "c"}, "c"),
        ({"message": {"role": "assistant", "content": "d"}}, "d"),
        ({"answer": "e"}, "e"),
        ({"output": "f"}, "f"),
        ({"response": None, "output": "g"}, "g"),
        ({"result": "h"}, None),
        (["response"], None),
    ],
)
def test_answers_are_read_under_response_and_the_older_keys(
    body: object, answer: str | None
) -> None:
    assert answer_from(body) == answer


async def _probe(handler: httpx.MockTransport, **kwargs: int) -> tuple[str, str | None]:
    async with ProbeClient(upstream=HttpxUpstream(transport=handler)) as client:
        result = await send_probe(client, TARGET, {"prompt": "hi"}, timeout=5, **kwargs)
    return result.status, result.error or result.answer


async def test_malformed_replies_are_errors_with_a_reason() -> None:
    def reply(status: int, content: bytes) -> httpx.MockTransport:
        return httpx.MockTransport(
            lambda request: httpx.Response(status, stream=httpx.ByteStream(content))
        )

    assert await _probe(reply(200, b'{"response": "ok"}')) == ("ok", "ok")
    assert await _probe(reply(503, b'{"error": "busy"}')) == ("error", "HTTP 503")
    assert await _probe(reply(200, b"<html>")) == ("error", "response is not JSON")
    no_key = await _probe(reply(200, b'{"result": "x"}'))
    assert no_key == ("error", "no answer under response|text|message|answer|output")
    big = json.dumps({"response": "x" * 5000}).encode()
    assert await _probe(reply(200, big), max_bytes=1024) == ("error", "response over 1024 bytes")


def test_importing_the_validator_does_not_import_torch() -> None:
    code = "import sys, tensornode.scoring; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
