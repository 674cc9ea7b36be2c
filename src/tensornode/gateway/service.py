"""``Gateway``: answer a prompt with the best available miner, without HTTP.

``await gateway.chat(ChatRequest(prompt="hi"), "llm")`` picks a miner (routing.py),
sends the request on the shared upstream client, and on a failure (failover.py) tries
another miner, at most ``max_attempts`` of them, each within ``attempt_timeout_s`` and
all within ``deadline_s``. Every attempt is recorded (recorder.py). Cancelling the call
(the user went away) cancels the request to the miner and closes its connection.

Callers are admitted by :meth:`Gateway.admit`: a gateway key (``Authorization: Bearer
tng_...``), required outside dev mode; in dev mode a request without one (or with a
bearer that is not a ``tng_`` key, as OpenAI clients always send one) is anonymous,
limited by a bucket per client IP; a ``tng_`` key that is sent is always checked.
Account API keys (``tn_...``) are refused here on purpose: they manage VMs and miners
and have no rate limit of their own.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from tensornode.config import Settings
from tensornode.contracts.miner import ANSWER_KEYS, ChatRequest, ChatResponse, Usage
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.errors import (
    InvalidInput,
    RateLimited,
    Unauthenticated,
)
from tensornode.gateway.attempts import Attempts
from tensornode.gateway.failover import CLIENT_ERROR_STATUSES, AttemptFailed, status_failure
from tensornode.gateway.fastjson import loads
from tensornode.gateway.keys import KEY_PREFIX, GatewayKeys, KeyIdentity
from tensornode.gateway.pool import CandidatePool
from tensornode.gateway.ratelimit import RateLimiter
from tensornode.gateway.recorder import GatewayMetrics, RequestRecorder
from tensornode.gateway.routing import MinerCandidate, ScoreSource
from tensornode.gateway.scores import ValidatorScores
from tensornode.gateway.upstream import MinerUpstream, Upstream, chat_body
from tensornode.net.signing import HEADER, RequestSigner
from tensornode.scoring.traffic import TrafficSampler

log = logging.getLogger(__name__)
perf_counter = time.perf_counter


@dataclass(frozen=True, slots=True)
class Caller:
    """An admitted caller: its key (None for anonymous dev traffic)."""

    key: KeyIdentity | None
    bucket: str


class MinerAnswer:
    """A miner's answer, its fields checked (the contract's ChatResponse, unvalidated)."""

    __slots__ = ("model", "processing_time", "text", "timestamp", "timestamp_text", "usage")

    def __init__(
        self,
        text: str,
        model: str,
        timestamp: tuple[datetime, str],
        processing_time: float,
        usage: tuple[int, int, int] | None,
    ) -> None:
        self.text = text
        self.model = model
        self.timestamp, self.timestamp_text = timestamp  # and as ISO 8601 UTC with "Z"
        self.processing_time = processing_time
        self.usage = usage  # prompt, completion, total tokens

    def chat_response(self) -> ChatResponse:
        usage = self.usage
        # every field is type-checked already: construct without validating again
        return ChatResponse.model_construct(
            response=self.text,
            model=self.model,
            timestamp=self.timestamp,
            processing_time=self.processing_time,
            usage=None
            if usage is None
            else Usage.model_construct(
                prompt_tokens=usage[0], completion_tokens=usage[1], total_tokens=usage[2]
            ),
        )


class GatewayAnswer:
    """A miner's answer, who gave it, and the time spent waiting on miners."""

    __slots__ = ("_response", "answer", "attempts", "miner_id", "upstream_s")

    def __init__(
        self, answer: MinerAnswer, miner_id: str, upstream_s: float, attempts: int
    ) -> None:
        self.answer = answer
        self.miner_id = miner_id
        self.upstream_s = upstream_s
        self.attempts = attempts
        self._response: ChatResponse | None = None

    @property
    def response(self) -> ChatResponse:
        """The answer as the miner contract's ChatResponse (built on first use)."""
        if self._response is None:
            self._response = self.answer.chat_response()
        return self._response


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


_TIMESTAMPS: dict[str, tuple[datetime, str]] = {}
"""Miners' timestamp texts seen lately, parsed and in our form (answers within a second
share one; parsing and formatting each would cost more than the rest of the answer)."""


def utc_text(at: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: the contract's timestamp form."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _timestamp(value: object) -> tuple[datetime, str]:
    """A miner's timestamp, parsed (naive means UTC) and as :func:`utc_text`; now if none."""
    if isinstance(value, str):
        known = _TIMESTAMPS.get(value)
        if known is not None:
            return known
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
            if len(_TIMESTAMPS) >= 1024:
                _TIMESTAMPS.clear()
            known = _TIMESTAMPS[value] = (parsed, utc_text(parsed))
            return known
    now = utcnow()
    return now, utc_text(now)


def _usage(value: object) -> tuple[int, int, int] | None:
    if not isinstance(value, dict):
        return None
    prompt, completion = value.get("prompt_tokens"), value.get("completion_tokens")
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    total = value.get("total_tokens")
    return prompt, completion, total if isinstance(total, int) else prompt + completion


def parse_answer(body: bytes, elapsed_s: float) -> MinerAnswer:
    """A miner's 200 body, checked as the contract's ChatResponse (older answer keys too)."""
    try:
        data: Any = loads(body)
    except ValueError:
        raise AttemptFailed("the miner's answer is not JSON") from None
    if not isinstance(data, dict):
        raise AttemptFailed("the miner's answer is not a JSON object")
    answer = data.get("response")
    if not isinstance(answer, str):
        answer = next((data[k] for k in ANSWER_KEYS if isinstance(data.get(k), str)), None)
        if answer is None:
            raise AttemptFailed("the miner's answer has no 'response' text")
    model = data.get("model")
    processing_time = _number(data.get("processing_time"))
    return MinerAnswer(
        answer,
        model if isinstance(model, str) else "unknown",
        _timestamp(data.get("timestamp")),
        round(elapsed_s, 4) if processing_time is None else processing_time,
        _usage(data.get("usage")),
    )


def normalize_answer(body: bytes, elapsed_s: float) -> ChatResponse:
    """A miner's 200 body as the contract's ChatResponse (older answer keys accepted)."""
    return parse_answer(body, elapsed_s).chat_response()


def client_error_message(body: bytes, status: int) -> str:
    """The miner's ``{"error": ...}`` words for a 4xx, or a plain description."""
    try:
        data = loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return " ".join(data["error"].split())[:300]  # the miner API's words for bad input
    return f"the miner refused the request (HTTP {status})"


class Gateway:
    """Routing, failover, admission and recording for users' chat requests."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        registry: CollectorRegistry | None = None,
        upstream: Upstream | None = None,
        scores: ScoreSource | None = None,  # default: the validator's (scores.py)
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        signer: RequestSigner | None = None,
        sampler: TrafficSampler | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.gateway
        self.db = db
        self.clock = clock
        self.upstream: Upstream = upstream or MinerUpstream()
        self.signer = signer  # signs each request for its miner (miners may require it)
        self.sampler = sampler  # a share of answered requests, graded by the validator
        self.metrics = GatewayMetrics(registry)
        self.recorder = RequestRecorder(db, self.config, self.metrics)
        self._own_scores: ValidatorScores | None = None
        if scores is None:
            self._own_scores = scores = ValidatorScores(db, settings)
        self.pool = CandidatePool(db, self.config, self.upstream, scores, rng=rng, clock=clock)
        self.keys = GatewayKeys(db, self.config, clock=clock)
        self.limiter = RateLimiter(
            self.config.rate_limit_per_min, burst=self.config.rate_limit_burst, clock=clock
        )

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Read the candidate set once, then keep it and the metrics flowing."""
        try:
            await self.pool.refresh()
        except Exception as exc:  # the background refresh keeps trying
            log.warning("gateway: first candidate refresh failed: %s", exc, exc_info=exc)
        self.pool.start()
        self.recorder.start()

    async def close(self) -> None:
        await self.pool.close()
        if self._own_scores is not None:
            await self._own_scores.close()
        await self.recorder.close()
        await self.upstream.aclose()

    # -- admission ------------------------------------------------------------------

    async def admit(self, authorization: str | None, client_ip: str | None) -> Caller:
        """The caller of a request, rate-limited; Unauthenticated or RateLimited if not."""
        if authorization is None:
            if not self.settings.dev_mode:
                self.metrics.rejected.labels("unauthenticated").inc()
                raise Unauthenticated(
                    "a gateway key is required: send Authorization: Bearer <key> "
                    "(create one with POST /gateway/keys)"
                )
            caller = Caller(None, f"ip:{client_ip or 'unknown'}")
        else:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                self.metrics.rejected.labels("unauthenticated").inc()
                raise Unauthenticated("Authorization must be 'Bearer <gateway key>'")
            if self.settings.dev_mode and not token.strip().startswith(KEY_PREFIX):
                # dev mode: OpenAI clients insist on some api_key; only tng_ keys count
                return self._limit(Caller(None, f"ip:{client_ip or 'unknown'}"))
            try:
                key = await self.keys.authenticate(token.strip())
            except Unauthenticated:
                self.metrics.rejected.labels("unauthenticated").inc()
                raise
            self.recorder.key_used(key.key_id)
            caller = Caller(key, f"key:{key.key_id}")
        return self._limit(caller)

    def _limit(self, caller: Caller) -> Caller:
        """One bucket per account (all its keys share it), and a key's own lower limit."""
        try:
            key = caller.key
            if key is not None and key.rate_limit_per_min is not None:
                self.limiter.check(caller.bucket, key.rate_limit_per_min)
            self.limiter.check(f"account:{key.account_id}" if key else caller.bucket)
        except RateLimited:
            self.metrics.rejected.labels("rate_limited").inc()
            raise
        return caller

    # -- chat -----------------------------------------------------------------------

    def check_limits(self, request: ChatRequest) -> None:
        """The gateway's own max_tokens ceiling (422, worded as the miner API does)."""
        if "max_tokens" in request.model_fields_set:
            self.check_max_tokens(request.max_tokens)

    def check_max_tokens(self, max_tokens: int | None) -> None:
        """422 when a max_tokens the user sent is over the gateway's ceiling."""
        limit = self.config.max_tokens
        if max_tokens is not None and max_tokens > limit:
            raise InvalidInput(f"max_tokens must be at most {limit}", status=422)

    def serves(self, model_type: str) -> bool:
        """Some healthy miner serves this model type now."""
        return bool(self.pool.by_type.get(model_type))

    def model_types(self) -> list[str]:
        return self.pool.model_types()

    async def chat(
        self, request: ChatRequest, model_type: str | None = None, *, raw: bytes | None = None
    ) -> GatewayAnswer:
        """Answer with the best available miner, failing over to others on errors.

        ``raw``: the JSON body ``request`` was validated from, forwarded as it is (saves
        serialising it again; miners ignore fields they do not know, as the contract says).
        """
        self.check_limits(request)
        payload = raw if raw is not None else request.model_dump_json(exclude_unset=True).encode()
        return await self.forward(payload, model_type)

    async def forward(self, payload: bytes, model_type: str | None = None) -> GatewayAnswer:
        """:meth:`chat` for a body already validated (and its max_tokens checked)."""
        model_type = model_type or self.config.default_model_type
        payload = chat_body(loads(payload))  # the same bytes a validator's probe would be
        attempts = self.attempts(model_type)
        while (candidate := await attempts.next()) is not None:
            started = perf_counter()
            try:
                answer = await self._attempt(
                    candidate, model_type, payload, attempts.timeout(), started
                )
            except AttemptFailed as failure:
                attempts.failed(failure, started)
                continue
            finally:
                self.pool.release(candidate)
            attempts.answered(started)
            if self.sampler is not None:
                self.sampler.offer(candidate.miner_id, model_type, payload, answer.text)
            return GatewayAnswer(answer, candidate.miner_id, attempts.waited, len(attempts.tried))
        raise attempts.exhausted()

    def attempts(self, model_type: str) -> Attempts:
        """A new request's failover across this gateway's miners."""
        return Attempts(self.pool, self.metrics, self.config, self.clock, model_type)

    def signed(self, endpoint: str, payload: bytes) -> dict[str, str] | None:
        """The coordinator's signature header for ``payload`` to the miner at
        ``endpoint`` (None without a key)."""
        signer = self.signer
        return None if signer is None else {HEADER: signer.header(endpoint, payload)}

    async def _attempt(
        self,
        candidate: MinerCandidate,
        model_type: str,
        payload: bytes,
        timeout: float,
        started: float,
    ) -> MinerAnswer:
        """One request to one miner: its answer, or AttemptFailed / InvalidInput."""
        miner_id = candidate.miner_id
        try:
            status, body = await self.upstream.post_json(
                candidate.url_for(model_type),
                payload,
                timeout=timeout,
                headers=self.signed(candidate.endpoint, payload),
            )
            elapsed = perf_counter() - started
            if status == 200:
                answer = parse_answer(body, elapsed)
            elif status in CLIENT_ERROR_STATUSES:
                candidate.breaker.on_success()
                self.recorder.record(miner_id, elapsed, "client_error")
                raise InvalidInput(client_error_message(body, status), status=status)
            else:
                raise status_failure(status, body)
        except AttemptFailed as failure:
            elapsed = perf_counter() - started
            candidate.breaker.on_failure(self.clock())
            candidate.observe_latency(elapsed * 1000.0)
            self.recorder.record(miner_id, elapsed, "error")
            log.debug("miner %s failed: %s", miner_id, failure.reason)
            raise
        except BaseException:  # cancelled (the user left): not the miner's fault
            candidate.breaker.on_cancel()
            raise
        candidate.breaker.on_success()
        candidate.observe_latency(elapsed * 1000.0)
        usage = answer.usage
        if usage is None:
            self.recorder.record(miner_id, elapsed, "ok")
        else:
            self.recorder.record(
                miner_id, elapsed, "ok", prompt_tokens=usage[0], completion_tokens=usage[1]
            )
        return answer

    def status(self) -> Mapping[str, object]:
        """The candidate set as the router sees it (for operators and tests)."""
        return {
            c.miner_id: {
                "inflight": c.inflight,
                "max_concurrency": c.max_concurrency,
                "latency_ewma_ms": c.latency_ewma_ms,
                "breaker": c.breaker.state.value,
                "score": c.score,
                "model_types": sorted(c.model_types),
            }
            for c in self.pool.candidates.values()
        }
