"""Streamed answers through the gateway: open a miner's stream with failover, relay it.

:func:`open_stream` sends the user's request (with ``stream: true``) to the best miner
and returns once the first bytes of its answer are in; until then a failure tries the
next miner, as :meth:`~tensornode.gateway.service.Gateway.forward` does. After that the
answer is committed to that miner: :func:`relay_chat` passes its events through as they
arrive (``/api/chat``), :func:`relay_completion` turns them into OpenAI chunks
(``/v1/chat/completions``). A miner that does not stream answers JSON; its whole answer
then goes out as one piece. A stream that breaks off ends with an ``{"error": ...}``
event; one the user leaves closes the miner's connection, which stops its generation.
The attempt is recorded (latency, tokens) when the stream ends, and a sampled share of
streams (drawn when they open, so only those collect their text) goes to the traffic
grader like answered requests do: a miner cannot serve streaming users worse than probes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tensornode.errors import InvalidInput
from tensornode.gateway.failover import CLIENT_ERROR_STATUSES, AttemptFailed, status_failure
from tensornode.gateway.fastjson import dumps, loads
from tensornode.gateway.routing import MinerCandidate
from tensornode.gateway.upstream import UpstreamStream, chat_body, read_all
from tensornode.openai_compat import CompletionChunks, openai_finish_reason
from tensornode.sse import DONE, DONE_EVENT, EVENT_STREAM, EventReader, event

if TYPE_CHECKING:
    from tensornode.gateway.service import Gateway, MinerAnswer

log = logging.getLogger(__name__)
perf_counter = time.perf_counter


@dataclass
class MinerStream:
    """A miner's answer as it arrives: its first bytes (or a whole JSON answer)."""

    candidate: MinerCandidate
    upstream: UpstreamStream
    first: bytes
    answer: MinerAnswer | None  # a miner that does not stream: its whole answer
    started: float  # perf_counter at the attempt's start
    waited_s: float  # time spent waiting on miners before the first bytes
    payload: bytes = b""  # the request sent to the miner
    model_type: str = ""
    text: list[str] | None = None  # the answer's text so far, for a sampled stream

    def collect(self, data: bytes) -> None:
        """Add one event's text to a sampled stream's answer."""
        if self.text is None or data == DONE:
            return
        try:
            obj = loads(data)
        except ValueError:
            return  # not an event of the miner API: it carries no text for the user
        text = obj.get("response") if isinstance(obj, dict) else None
        if isinstance(text, str):
            self.text.append(text)

    @property
    def miner_id(self) -> str:
        return self.candidate.miner_id


async def open_stream(gateway: Gateway, payload: bytes, model_type: str | None) -> MinerStream:
    """The first miner to start answering ``payload`` (failover before that)."""

    model_type = model_type or gateway.config.default_model_type
    payload = chat_body(loads(payload))  # the same encoding as every request to a miner
    attempts = gateway.attempts(model_type)
    while (candidate := await attempts.next()) is not None:
        started = perf_counter()
        upstream: UpstreamStream | None = None
        try:
            upstream = await gateway.upstream.open_stream(
                candidate.url_for(model_type),
                payload,
                timeout=attempts.timeout(),
                idle_timeout=gateway.config.attempt_timeout_s,
                headers=gateway.signed(candidate.endpoint, payload),
            )
            first, answer = await _first_bytes(gateway, candidate, upstream, started)
        except AttemptFailed as failure:
            _failed(gateway, candidate, started, failure, upstream)
            attempts.failed(failure, started)
            continue
        except InvalidInput:  # the miner refused the request: recorded and released
            raise
        except BaseException:  # cancelled (the user left): not the miner's fault
            if upstream is not None:
                upstream.close()
            candidate.breaker.on_cancel()
            gateway.pool.release(candidate)
            raise
        attempts.answered(started)
        sampled = gateway.sampler is not None and gateway.sampler.draw()
        return MinerStream(
            candidate, upstream, first, answer, started, attempts.waited, payload, model_type,
            [] if sampled else None,
        )  # fmt: skip
    raise attempts.exhausted()


async def _first_bytes(
    gateway: Gateway, candidate: MinerCandidate, upstream: UpstreamStream, started: float
) -> tuple[bytes, MinerAnswer | None]:
    """The first bytes of an event stream, or a miner's whole JSON answer; AttemptFailed
    for a failure, InvalidInput (recorded, the miner released) for a refused request."""
    from tensornode.gateway.service import client_error_message, parse_answer

    if upstream.status != 200:
        body = await read_all(upstream)
        if upstream.status in CLIENT_ERROR_STATUSES:
            candidate.breaker.on_success()
            gateway.recorder.record(candidate.miner_id, perf_counter() - started, "client_error")
            gateway.pool.release(candidate)
            raise InvalidInput(client_error_message(body, upstream.status), status=upstream.status)
        raise status_failure(upstream.status, body)
    if EVENT_STREAM not in upstream.content_type:
        return b"", parse_answer(await read_all(upstream), perf_counter() - started)
    first = await upstream.read()
    if not first:
        raise AttemptFailed("the miner ended its stream before any event")
    return first, None


def _failed(
    gateway: Gateway,
    candidate: MinerCandidate,
    started: float,
    failure: AttemptFailed,
    upstream: UpstreamStream | None,
) -> None:
    if upstream is not None:
        upstream.close()
    elapsed = perf_counter() - started
    candidate.breaker.on_failure(gateway.clock())
    candidate.observe_latency(elapsed * 1000.0)
    gateway.recorder.record(candidate.miner_id, elapsed, "error")
    gateway.pool.release(candidate)
    log.debug("miner %s failed: %s", candidate.miner_id, failure.reason)


def finish(gateway: Gateway, stream: MinerStream, outcome: str, usage: Any) -> None:
    """Record a relayed stream's end and free its miner's slot (ok, error or cancelled)."""
    stream.upstream.close()
    candidate = stream.candidate
    gateway.pool.release(candidate)
    elapsed = perf_counter() - stream.started
    if outcome == "cancelled":
        candidate.breaker.on_cancel()
        return
    if outcome == "error":
        candidate.breaker.on_failure(gateway.clock())
        gateway.recorder.record(candidate.miner_id, elapsed, "error")
        return
    candidate.breaker.on_success()
    candidate.observe_latency(elapsed * 1000.0)
    if stream.text is not None and gateway.sampler is not None:
        gateway.sampler.keep(
            candidate.miner_id, stream.model_type, stream.payload, "".join(stream.text)
        )
    prompt, completion = _tokens(usage)
    gateway.recorder.record(
        candidate.miner_id, elapsed, "ok", prompt_tokens=prompt, completion_tokens=completion
    )


def _tokens(usage: Any) -> tuple[int, int]:
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int) and isinstance(completion, int):
            return prompt, completion
    return 0, 0


def _answer_events(answer: MinerAnswer) -> list[dict[str, Any]]:
    """A whole (non-streamed) answer as the miner API's events."""
    usage = answer.usage
    return [
        {"response": answer.text},
        {
            "response": "",
            "done": True,
            "model": answer.model,
            "timestamp": answer.timestamp_text,
            "processing_time": answer.processing_time,
            "usage": None
            if usage is None
            else {
                "prompt_tokens": usage[0],
                "completion_tokens": usage[1],
                "total_tokens": usage[2],
            },
        },
    ]


async def miner_events(stream: MinerStream) -> AsyncIterator[tuple[bytes, list[bytes]]]:
    """The miner's answer as (raw bytes, the data of the events they completed)."""
    if stream.answer is not None:
        events = _answer_events(stream.answer)
        yield b"".join(event(e) for e in events) + DONE_EVENT, [dumps(e) for e in events] + [DONE]
        return
    reader = EventReader()
    chunk = stream.first
    while chunk:
        try:
            completed = reader.feed(chunk)
        except ValueError as exc:
            raise AttemptFailed(str(exc)) from None
        yield chunk, completed
        chunk = await stream.upstream.read()


def _done_or_error(data: bytes) -> dict[str, Any] | None:
    """The done or error event's object (the only ones the relay looks into)."""
    if b'"done"' not in data and b'"error"' not in data:
        return None
    try:
        obj = loads(data)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) and (obj.get("done") or "error" in obj) else None


async def relay_chat(gateway: Gateway, stream: MinerStream) -> AsyncIterator[bytes]:
    """``/api/chat`` streamed: the miner's events passed through as they arrive."""
    outcome, usage = "cancelled", None
    try:
        async for raw, completed in miner_events(stream):
            yield raw
            for data in completed:
                stream.collect(data)
                found = _done_or_error(data)
                if found is not None and "error" in found:
                    outcome = "error"
                elif found is not None:
                    usage = found.get("usage")
        outcome = "ok" if outcome != "error" else outcome
    except AttemptFailed as failure:
        outcome = "error"
        yield event({"error": f"the miner's answer broke off: {failure.reason}"})
    finally:
        finish(gateway, stream, outcome, usage)


async def relay_completion(
    gateway: Gateway, stream: MinerStream, chunks: CompletionChunks, max_tokens: int
) -> AsyncIterator[bytes]:
    """``/v1/chat/completions`` streamed: each miner event as an OpenAI chunk."""
    outcome, usage, reason = "cancelled", None, None
    pending = chunks.role()  # sent with the first event's text: one write, not two
    try:
        async for _, completed in miner_events(stream):
            out = pending
            for data in completed:
                if data == DONE:
                    continue
                obj = loads(data)
                if not isinstance(obj, dict):
                    raise AttemptFailed("an event is not a JSON object")
                if "error" in obj:
                    raise AttemptFailed(f"the miner reported: {obj['error']}")
                text = obj.get("response")
                if isinstance(text, str) and text:
                    out += chunks.content(text)
                    if stream.text is not None:
                        stream.text.append(text)
                if obj.get("done"):
                    usage, reason = obj.get("usage"), obj.get("finish_reason")
            if out:
                pending = b""
                yield out
        prompt, completion = _tokens(usage)
        finish_reason = openai_finish_reason(
            reason if isinstance(reason, str) else None, completion, max_tokens
        )
        usage_out = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        outcome = "ok"
        yield pending + chunks.finish(finish_reason, usage_out)
    except (AttemptFailed, ValueError) as failure:
        outcome = "error"
        reason_text = failure.reason if isinstance(failure, AttemptFailed) else "bad event"
        message = f"the miner's answer broke off: {reason_text}"
        error = {"message": message, "type": "api_error", "code": "upstream_error"}
        yield pending + event({"error": error})
    finally:
        finish(gateway, stream, outcome, usage)
