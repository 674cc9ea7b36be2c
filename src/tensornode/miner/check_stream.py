"""The streaming part of ``miner check``: ``/api/chat`` with ``stream: true`` and the
OpenAI-compatible ``/v1/chat/completions``, where a miner offers them.

Streaming is optional: a miner that answers a stream request with JSON (as the guide's
do) passes ``chat.stream`` with a note, and one without ``/v1/chat/completions`` (any
answer but 200) passes ``openai.chat`` with a note. A miner that does stream must do it
right: events ``data: {json}``, text in ``response``, a ``done`` event, ``[DONE]`` last.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import httpx

from tensornode.contracts.miner_check import CheckStatus
from tensornode.sse import DONE, EVENT_STREAM, EventReader

if TYPE_CHECKING:
    from tensornode.miner.check import _Checker

PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL
MAX_STREAM_BYTES = 1 << 20
_BODY: dict[str, Any] = {"prompt": "Count to five.", "max_tokens": 16, "stream": True}
_OPENAI: dict[str, Any] = {
    "model": "llm",
    "messages": [{"role": "user", "content": "Count to five."}],
    "max_tokens": 16,
}


class _Streamed:
    """What a stream request got: status, content type, events' data, first-event time."""

    def __init__(self) -> None:
        self.status = 0
        self.content_type = ""
        self.events: list[bytes] = []
        self.body = b""
        self.first_ms: float | None = None
        self.error: str | None = None


async def _stream(c: _Checker, path: str, body: dict[str, Any]) -> _Streamed:
    out, reader = _Streamed(), EventReader()
    start = time.perf_counter()
    try:
        async with asyncio.timeout(c.timeout):
            content = json.dumps(body).encode()
            headers = c.json_headers(content)
            url = c.base_url + path
            async with c.client.stream("POST", url, content=content, headers=headers) as resp:
                out.status = resp.status_code
                out.content_type = resp.headers.get("content-type", "").lower()
                async for chunk in resp.aiter_bytes():
                    out.body += chunk
                    if len(out.body) > MAX_STREAM_BYTES:
                        out.error = f"an answer larger than {MAX_STREAM_BYTES} bytes"
                        break
                    if EVENT_STREAM in out.content_type:
                        events = reader.feed(chunk)
                        if events and out.first_ms is None:
                            out.first_ms = (time.perf_counter() - start) * 1000
                        out.events += events
    except (TimeoutError, httpx.TimeoutException):
        out.error = f"no complete answer within {c.timeout:g} s"
    except (httpx.HTTPError, ValueError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def _objects(events: list[bytes]) -> list[dict[str, Any]] | str:
    """The events before ``[DONE]`` as JSON objects, or what is wrong with them."""
    if not events or events[-1] != DONE:
        return "the stream does not end with data: [DONE]"
    objects = []
    for data in events[:-1]:
        try:
            obj = json.loads(data)
        except ValueError:
            return f"an event is not JSON: {data[:60]!r}"
        if not isinstance(obj, dict):
            return "an event is not a JSON object"
        if "error" in obj:
            return f"the stream reported an error: {obj['error']}"
        objects.append(obj)
    return objects


async def check_chat_stream(c: _Checker) -> None:
    """``chat.stream``: /api/chat with ``stream: true``."""
    got = await _stream(c, "/api/chat", _BODY)
    if got.error is not None or got.status != 200:
        c.add("chat.stream", FAIL, got.error or f"HTTP {got.status} to a stream request")
        return
    if EVENT_STREAM not in got.content_type:
        c.add("chat.stream", PASS, "answers stream requests with JSON (streaming not offered)")
        return
    objects = _objects(got.events)
    if isinstance(objects, str):
        c.add("chat.stream", FAIL, objects)
        return
    if not all(isinstance(o.get("response"), str) for o in objects):
        c.add("chat.stream", FAIL, "an event has no 'response' text")
        return
    if not objects or objects[-1].get("done") is not True:
        c.add("chat.stream", FAIL, "no final event with done: true")
        return
    text = "".join(o["response"] for o in objects)
    if not text.strip():
        c.add("chat.stream", WARN, "the streamed answer is empty", got.first_ms)
        return
    pieces = len(objects) - 1
    c.add("chat.stream", PASS, f"{pieces} pieces, first after {got.first_ms:.0f} ms", got.first_ms)


async def check_openai(c: _Checker) -> None:
    """``openai.chat`` and ``openai.stream``: /v1/chat/completions, if served."""
    plain = await c.call("POST", "/v1/chat/completions", _OPENAI)
    if plain.status != 200:  # optional: not offered (what the status is does not matter)
        reason = plain.error or f"HTTP {plain.status}"
        c.add("openai.chat", PASS, f"no /v1/chat/completions ({reason}; optional)")
        return
    body = plain.body
    choices = body.get("choices") if isinstance(body, dict) else None
    content = (
        choices[0].get("message", {}).get("content")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict)
        else None
    )
    if not isinstance(content, str):
        c.add("openai.chat", FAIL, "/v1/chat/completions answers 200 with no chat.completion")
        return
    c.add("openai.chat", PASS, "answers chat completions", plain.latency_ms)
    got = await _stream(c, "/v1/chat/completions", {**_OPENAI, "stream": True})
    objects = _objects(got.events) if EVENT_STREAM in got.content_type else "not an event stream"
    if got.error is not None or isinstance(objects, str):
        c.add("openai.stream", FAIL, got.error or str(objects))
        return
    if not all(o.get("object") == "chat.completion.chunk" for o in objects):
        c.add("openai.stream", FAIL, "an event is not a chat.completion.chunk")
        return
    c.add("openai.stream", PASS, f"{len(objects)} chunks", got.first_ms)
