"""Streamed answers through the gateway: open a miner's stream with failover, relay it.

:func:`open_stream` sends the user's request (with ``stream: true``) to the best miner
and returns once its answer has begun (its head is in), so the user's head can go out
while the miner makes its first token; until the answer's first bytes are in, a failure
tries the next miner, as :meth:`~tensornode.gateway.service.Gateway.forward` does
(:meth:`MinerStream.first`). After that the answer is committed to that miner:
:func:`relay_chat` passes its events through as they arrive (``/api/chat``),
:func:`relay_completion` turns them into OpenAI chunks (``/v1/chat/completions``). A
miner that does not stream answers JSON; its whole answer then goes out as one piece. A
stream that breaks off, or whose every miner failed before its first bytes once the
user's head was out, ends with an ``{"error": ...}`` event; one the user leaves closes
the miner's connection, which stops its generation.
The attempt is recorded (latency, tokens) when the stream ends, and a sampled share of
streams (drawn when they open, so only those collect their text) goes to the traffic
grader like answered requests do: a miner cannot serve streaming users worse than probes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tensornode.errors import InvalidInput, TensorNodeError
from tensornode.gateway.failover import CLIENT_ERROR_STATUSES, AttemptFailed, status_failure
from tensornode.gateway.fastjson import dumps, loads
from tensornode.gateway.routing import MinerCandidate
from tensornode.gateway.upstream import UpstreamStream, read_all
from tensornode.openai_compat import CompletionChunks, openai_error_body, openai_finish_reason
from tensornode.sse import DONE, DONE_EVENT, EVENT_STREAM, EventReader, event

if TYPE_CHECKING:
    from tensornode.gateway.attempts import Attempts
    from tensornode.gateway.service import Gateway, MinerAnswer

log = logging.getLogger(__name__)
perf_counter = time.perf_counter


@dataclass
class MinerStream:
    """A user's streamed answer and the miner serving it: opened when a miner's answer
    has begun (its head: 200 and an event stream; or its whole JSON answer, from a miner
    that does not stream). Until the first bytes of the answer arrive (:meth:`first`), a
    miner that fails is replaced by the next, as :meth:`Gateway.forward` does."""

    gateway: Gateway
    attempts: Attempts
    payload: bytes  # the request sent to the miner
    model_type: str
    text: list[str] | None = None  # the answer's text so far, for a sampled stream
    candidate: MinerCandidate = field(init=False)
    upstream: UpstreamStream = field(init=False)
    answer: MinerAnswer | None = None  # a miner that does not stream: its whole answer
    started: float = 0.0  # perf_counter at this miner's attempt's start
    waited_s: float = 0.0  # time spent waiting on miners until this one's head
    live: bool = False  # a miner is serving it (its slot held until finish)

    async def open(self) -> None:
        """Begin the answer with the next miner that starts one; the error for the user
        (ServiceUnavailable, UpstreamError) when none does, InvalidInput when a miner
        refuses the request (recorded, the miner released)."""
        gateway, attempts = self.gateway, self.attempts
        while (candidate := await attempts.next()) is not None:
            started = perf_counter()
            upstream: UpstreamStream | None = None
            try:
                upstream = await gateway.upstream.open_stream(
                    candidate.url_for(self.model_type),
                    self.payload,
                    timeout=attempts.timeout(),
                    idle_timeout=gateway.config.attempt_timeout_s,
                    headers=gateway.signed(candidate.endpoint, self.payload),
                )
                answer = await _begun(gateway, candidate, upstream, started)
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
            self.candidate, self.upstream, self.answer, self.started = (
                candidate, upstream, answer, started,
            )  # fmt: skip
            self.live = True
            self.waited_s = attempts.waited + (perf_counter() - started)
            return
        raise attempts.exhausted()

    async def first(self) -> bytes:
        """The answer's first bytes (b"" for a whole JSON answer); a miner that fails
        before sending any is recorded and the next one opened (see :meth:`open`)."""
        while self.answer is None:
            try:
                first = await self.upstream.read()
                if not first:
                    raise AttemptFailed("the miner ended its stream before any event")
            except AttemptFailed as failure:
                self.live = False
                _failed(self.gateway, self.candidate, self.started, failure, self.upstream)
                self.attempts.failed(failure, self.started)
                await self.open()
                continue
            self.attempts.answered(self.started)
            return first
        return b""

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
    """The user's stream, opened with the first miner whose answer begins (failover until
    then, and on until its first bytes: :meth:`MinerStream.first`). ``payload``: the
    request for the miner, encoded as every request to a miner is (``chat_body``)."""
    model_type = model_type or gateway.config.default_model_type
    sampled = gateway.sampler is not None and gateway.sampler.draw()
    stream = MinerStream(
        gateway, gateway.attempts(model_type), payload, model_type, [] if sampled else None
    )
    await stream.open()
    return stream


async def _begun(
    gateway: Gateway, candidate: MinerCandidate, upstream: UpstreamStream, started: float
) -> MinerAnswer | None:
    """None when the miner's event stream has begun, its whole answer when it answered
    JSON; AttemptFailed for a failure, InvalidInput (recorded, the miner released) for a
    refused request."""
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
        return parse_answer(await read_all(upstream), perf_counter() - started)
    return None


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


def finish(stream: MinerStream, outcome: str, usage: Any = None) -> None:
    """Record a relayed stream's end and free its miner's slot (ok, error or cancelled);
    nothing for a stream whose last miner failed before its first bytes (recorded then)."""
    if not stream.live:
        return
    stream.live = False
    gateway = stream.gateway
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
    """The miner's answer as (raw bytes, the data of the events they completed);
    AttemptFailed when it breaks off, the user's error (TensorNodeError) when every miner
    tried failed before its first bytes."""
    chunk = await stream.first()
    if stream.answer is not None:
        events = _answer_events(stream.answer)
        yield b"".join(event(e) for e in events) + DONE_EVENT, [dumps(e) for e in events] + [DONE]
        return
    reader = EventReader()
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


async def relay_chat(stream: MinerStream) -> AsyncIterator[bytes]:
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
    except TensorNodeError as exc:  # no miner began the answer after all
        yield event({"error": exc.message})
    finally:
        finish(stream, outcome, usage)


async def relay_completion(
    stream: MinerStream, chunks: CompletionChunks, max_tokens: int
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
    except TensorNodeError as exc:  # no miner began the answer after all
        error = openai_error_body(exc.status, exc.message)["error"]
        yield pending + event({"error": error})
    finally:
        finish(stream, outcome, usage)
