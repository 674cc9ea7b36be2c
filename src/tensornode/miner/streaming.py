"""The miner's streamed answers as HTTP bodies: server-sent events of ``/api/chat``
(contracts/miner.py) and of the OpenAI-compatible ``/v1/chat/completions``.

Each is an async generator over a :class:`~tensornode.miner.stream.ChatStream` that
closes the stream however it ends: when the client goes away, the server stops iterating
and generation of that request stops.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from tensornode.errors import TensorNodeError
from tensornode.miner.stream import ChatStream
from tensornode.openai_compat import CompletionChunks, openai_finish_reason, usage_body
from tensornode.sse import DONE_EVENT, event

OUR_FINISH = {"cancelled": "stop"}


def utc_now_text() -> str:
    """Now, as the contract's timestamps are written (ISO 8601, UTC, ``Z``)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def chat_events(stream: ChatStream, model: str, started: float) -> AsyncIterator[bytes]:
    """``/api/chat`` with ``stream: true``: a :class:`ChatStreamEvent` per piece, the done
    event, ``[DONE]``; a failure after the start is an ``{"error": ...}`` event."""
    try:
        async for piece in stream:
            yield event({"response": piece})
        result = stream.result
        assert result is not None
        yield event(
            {
                "response": "",
                "done": True,
                "model": model,
                "timestamp": utc_now_text(),
                "processing_time": round(time.perf_counter() - started, 4),
                "usage": usage_body(result.prompt_tokens, result.completion_tokens),
                "finish_reason": OUR_FINISH.get(result.finish_reason, result.finish_reason),
            }
        )
        yield DONE_EVENT
    except TensorNodeError as exc:
        yield event({"error": exc.message})
    finally:
        stream.close()


async def completion_events(
    stream: ChatStream, model: str, *, include_usage: bool, max_tokens: int
) -> AsyncIterator[bytes]:
    """``/v1/chat/completions`` with ``stream: true``: OpenAI's chunks as text arrives."""
    chunks = CompletionChunks(model, include_usage=include_usage)
    try:
        yield chunks.role()
        async for piece in stream:
            yield chunks.content(piece)
        result = stream.result
        assert result is not None
        reason = openai_finish_reason(result.finish_reason, result.completion_tokens, max_tokens)
        yield chunks.finish(reason, usage_body(result.prompt_tokens, result.completion_tokens))
    except TensorNodeError as exc:
        yield event({"error": {"message": exc.message, "type": "api_error", "code": None}})
    finally:
        stream.close()
