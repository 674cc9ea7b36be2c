"""Check any miner against the miner contract (../shared/reference/contracts.md).

:func:`check_miner` probes every endpoint, the shapes and types of the answers, the
answers to bad input, the health semantics and the latency of a few requests, and
returns a :class:`~tensornode.contracts.miner_check.CheckReport`. What the contract
requires is a ``fail`` when broken; what a good miner also does (4xx on bad input, JSON
error bodies, an uptime that advances, ``usage``, a plausible ``processing_time``) is a
``warn``, so a miner written straight from the miner guide passes with warnings.
Streaming and the OpenAI-compatible endpoint are checked where a miner offers them
(check_stream.py).

It never prints and never raises on a miner's misbehaviour (the coordinator runs it on
``POST /miners``): everything a miner does wrong becomes a result.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from tensornode.contracts.miner import ANSWER_KEYS
from tensornode.contracts.miner_check import CheckReport, CheckResult, CheckStatus
from tensornode.miner.check_rules import (
    CHAT_FIELDS,
    HEALTH_EXTENSIONS,
    HEALTH_FIELDS,
    INFO_EXTENSIONS,
    INFO_FIELDS,
    KNOWN_MODEL_TYPES,
    field_problems,
    json_type,
    parse_uptime,
    usage_problem,
)
from tensornode.miner.check_stream import check_chat_stream, check_openai
from tensornode.net.signing import HEADER, RequestSigner

PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL

MAX_BODY_BYTES = 1 << 20
"""A miner's answer larger than this is refused (the check must not exhaust its caller)."""

UPTIME_GAP_S = 1.5
"""Least time between the two /health calls, so a seconds-resolution uptime must move."""

_PROMPT = "What is 2 + 2? Answer in one word."
_CHAT_BODY: dict[str, Any] = {"prompt": _PROMPT, "temperature": 0.2, "max_tokens": 16}
_SAMPLE_PROMPTS = ("Name a colour.", "Say hello.", "Count to three.", "Name a fruit.")

# (check name, what was sent, body: JSON value, or raw bytes sent as application/json)
_BAD_INPUTS: tuple[tuple[str, str, object], ...] = (
    ("errors.malformed_json", "a body that is not JSON", b'{"prompt": '),
    ("errors.missing_prompt", "a body without 'prompt'", {"temperature": 0.2}),
    ("errors.prompt_type", "a number as 'prompt'", {"prompt": 123}),
    ("errors.max_tokens_type", "a string as 'max_tokens'", {"prompt": _PROMPT, "max_tokens": "x"}),
    ("errors.max_tokens_range", "max_tokens -1", {"prompt": _PROMPT, "max_tokens": -1}),
)


class _NoJSON:
    """The body of an answer that is not JSON."""


NO_JSON = _NoJSON()


@dataclass(frozen=True)
class Exchange:
    """One request to the miner and what came back (``error`` when nothing usable did)."""

    status: int | None
    body: object  # the parsed JSON, or NO_JSON
    text: str
    latency_ms: float
    error: str | None = None
    connected: bool = True
    echo: bool = True  # False: a summary names the status only, never what was answered

    def summary(self) -> str:
        """``HTTP 500 {"error": "..."}``, cut short, for a reason."""
        if self.error is not None:
            return self.error
        if not self.echo:
            return f"HTTP {self.status}" + ("" if self.text.strip() else " (empty body)")
        shown = self.text.strip().replace("\n", " ")
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return f"HTTP {self.status}" + (f" {shown}" if shown else " (empty body)")


@dataclass(frozen=True)
class _Health:
    """What the first /health call saw, to compare with the last one."""

    at: float
    uptime_s: float | None
    uptime_text: str


class _Checker:
    """Makes the requests and collects the results of one run."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        timeout: float,
        *,
        echo: bool = True,
        signer: RequestSigner | None = None,
    ) -> None:
        self.client = client
        self.base_url = base_url
        self.timeout = timeout
        self.echo = echo
        self.signer = signer
        self.results: list[CheckResult] = []

    def add(
        self, name: str, status: CheckStatus, reason: str, latency_ms: float | None = None
    ) -> None:
        ms = None if latency_ms is None else round(latency_ms, 1)
        self.results.append(CheckResult(name=name, status=status, reason=reason, latency_ms=ms))

    def json_headers(self, content: bytes, *, sign: bool = True) -> dict[str, str]:
        """Headers of a JSON request, signed for the miner when the check holds the key."""
        headers = {"content-type": "application/json"}
        if sign and self.signer is not None:
            headers[HEADER] = self.signer.header(self.base_url, content)
        return headers

    async def call(
        self, method: str, path: str, body: object = None, *, sign: bool = True
    ) -> Exchange:
        """One request; transport failures become ``Exchange.error``, never exceptions.
        POST bodies are signed for the miner when the check holds the coordinator's key."""
        # Connecting gets half the time, so a host that never accepts is told apart from
        # one that accepts and never answers; the whole exchange gets ``timeout``, so a
        # miner dripping bytes cannot hold the check.
        phases = httpx.Timeout(self.timeout, connect=self.timeout / 2)
        kwargs: dict[str, Any] = {"timeout": phases}
        if body is not None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            kwargs.update(content=content, headers=self.json_headers(content, sign=sign))
        start = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                async with self.client.stream(method, self.base_url + path, **kwargs) as resp:
                    raw = await _read_capped(resp)
                    status = resp.status_code
        except httpx.ConnectTimeout:
            no_connection = f"no connection within {self.timeout / 2:g} s"
            return self._failed(start, no_connection, connected=False)
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(start, f"no answer within {self.timeout:g} s", connected=True)
        except (httpx.ConnectError, httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            return self._failed(start, _describe(exc), connected=False)
        except httpx.HTTPError as exc:
            return self._failed(start, _describe(exc), connected=True)
        ms = (time.perf_counter() - start) * 1000
        if raw is None:
            too_large = f"an answer larger than {MAX_BODY_BYTES} bytes"
            return Exchange(status, NO_JSON, "", ms, error=too_large)
        text = raw.decode("utf-8", errors="replace")
        return Exchange(status, _parse_json(raw), text, ms, echo=self.echo)

    @staticmethod
    def _failed(start: float, error: str, *, connected: bool) -> Exchange:
        ms = (time.perf_counter() - start) * 1000
        return Exchange(None, NO_JSON, "", ms, error=error, connected=connected)


async def _read_capped(resp: httpx.Response) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, absurd nesting
        return NO_JSON


def _describe(exc: Exception) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _is_error_body(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def _percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _expect_object(c: _Checker, name: str, ex: Exchange) -> dict[str, Any] | None:
    """Record ``name``: a 200 answer whose body is a JSON object (fail otherwise)."""
    if ex.error is not None or ex.status != 200:
        c.add(
            name, FAIL, f"expected HTTP 200 with a JSON object, got {ex.summary()}", ex.latency_ms
        )
        return None
    if not isinstance(ex.body, dict):
        got = "a body that is not JSON" if ex.body is NO_JSON else f"JSON {json_type(ex.body)}"
        c.add(name, FAIL, f"expected a JSON object, got {got}: {ex.summary()}", ex.latency_ms)
        return None
    c.add(name, PASS, "HTTP 200, JSON object", ex.latency_ms)
    return ex.body


def _check_fields(
    c: _Checker, name: str, body: Mapping[str, object], spec: Mapping[str, str]
) -> bool:
    problems = field_problems(body, spec)
    if problems:
        c.add(name, FAIL, "; ".join(problems))
        return False
    c.add(name, PASS, ", ".join(spec) + " present with the right types")
    return True


def _check_extensions(
    c: _Checker, name: str, body: Mapping[str, object], spec: Mapping[str, str]
) -> None:
    present = {k: v for k, v in spec.items() if body.get(k) is not None}
    problems = field_problems(body, present)
    if problems:
        c.add(name, WARN, "; ".join(problems) + " (optional extensions, but typed)")
    elif present:
        c.add(name, PASS, "extensions " + ", ".join(present) + " well typed")
    else:
        c.add(name, PASS, "no optional extensions")


async def _check_health(c: _Checker) -> _Health | None:
    """reachable, health, health.fields, health.healthy, health.uptime, health.extensions."""
    ex = await c.call("GET", "/health")
    if not ex.connected:
        c.add("reachable", FAIL, f"cannot connect to {c.base_url}: {ex.error}", ex.latency_ms)
        return None
    c.add("reachable", PASS, f"{c.base_url} accepts connections")
    at = time.monotonic()
    body = _expect_object(c, "health", ex)
    if body is None or not _check_fields(c, "health.fields", body, HEALTH_FIELDS):
        return None
    if body["status"] == "healthy" and body["model_loaded"] is True:
        c.add("health.healthy", PASS, "status 'healthy', model_loaded true")
    else:
        reason = f"status {body['status']!r}, model_loaded {json.dumps(body['model_loaded'])}"
        c.add("health.healthy", FAIL, reason + "; a miner must be healthy to serve")
    shown = parse_uptime(body["uptime"])
    if shown is None:
        c.add("health.uptime", WARN, f"uptime {body['uptime']!r} is not like '2h 15m 30s'")
    else:
        c.add("health.uptime", PASS, f"uptime {body['uptime']!r} ({shown:g} s)")
    _check_extensions(c, "health.extensions", body, HEALTH_EXTENSIONS)
    return _Health(at, _uptime_of(body), str(body["uptime"]))


def _uptime_of(body: Mapping[str, object]) -> float | None:
    exact = body.get("uptime_seconds")
    if isinstance(exact, int | float) and not isinstance(exact, bool):
        return float(exact)
    uptime = body.get("uptime")
    return parse_uptime(uptime) if isinstance(uptime, str) else None


async def _check_info(c: _Checker) -> None:
    """info, info.fields, info.values, info.extensions."""
    body = _expect_object(c, "info", await c.call("GET", "/info"))
    if body is None or not _check_fields(c, "info.fields", body, INFO_FIELDS):
        return
    oddities = []
    if not body["model_name"].strip():
        oddities.append("model_name is empty")
    if body["model_type"] not in KNOWN_MODEL_TYPES:
        known = ", ".join(KNOWN_MODEL_TYPES)
        oddities.append(f"model_type {body['model_type']!r} is not one of {known}")
    if not body["capabilities"]:
        oddities.append("capabilities is empty")
    if body["max_context_length"] <= 0:
        oddities.append(f"max_context_length {body['max_context_length']} is not positive")
    if oddities:
        c.add("info.values", WARN, "; ".join(oddities))
    else:
        c.add("info.values", PASS, f"{body['model_type']} model {body['model_name']!r}")
    _check_extensions(c, "info.extensions", body, INFO_EXTENSIONS)


def _answer_of(body: Mapping[str, object]) -> tuple[str, str] | None:
    """(key, answer) under the first answer key holding a string, the contract's first."""
    for key in ANSWER_KEYS:
        value = body.get(key)
        if isinstance(value, str):
            return key, value
    return None


async def _check_chat(c: _Checker, path: str, label: str) -> None:
    """<label>, .answer, .fields, .timestamp, .processing_time, .usage for one request."""
    ex = await c.call("POST", path, _CHAT_BODY)
    body = _expect_object(c, label, ex)
    if body is None:
        return
    _check_answer(c, f"{label}.answer", body)
    if not _check_fields(c, f"{label}.fields", body, CHAT_FIELDS):
        return
    _check_timestamp(c, f"{label}.timestamp", body["timestamp"])
    _check_processing_time(c, f"{label}.processing_time", body["processing_time"], ex)
    problem = usage_problem(body.get("usage"), _CHAT_BODY["max_tokens"])
    c.add(f"{label}.usage", WARN if problem else PASS, problem or "usage token counts add up")


def _check_answer(c: _Checker, name: str, body: Mapping[str, object]) -> None:
    found = _answer_of(body)
    if found is None:
        if "response" in body:
            got = json_type(body["response"])
            c.add(name, FAIL, f"'response' is {got}, expected a string")
        else:
            c.add(name, FAIL, f"no answer: none of {', '.join(ANSWER_KEYS)} holds a string")
        return
    key, answer = found
    problems = [] if answer.strip() else ["the answer is empty"]
    if key != "response":
        problems.insert(0, f"answer under {key!r}, not 'response' (validators tolerate it)")
    shown = answer if len(answer) <= 40 else answer[:37] + "..."
    c.add(name, WARN if problems else PASS, "; ".join(problems) or f"response {shown!r}")


def _check_timestamp(c: _Checker, name: str, value: str) -> None:
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        c.add(name, WARN, f"timestamp {value!r} is not ISO 8601 like 2024-01-15T10:30:00Z")
        return
    if stamp.tzinfo is not None and abs(datetime.now(UTC) - stamp).total_seconds() > 86_400:
        c.add(name, WARN, f"timestamp {value!r} is more than a day from now (clock wrong?)")
        return
    c.add(name, PASS, f"timestamp {value!r}")


def _check_processing_time(c: _Checker, name: str, value: float, ex: Exchange) -> None:
    round_trip = ex.latency_ms / 1000
    # The guide rounds to 0.01 s; allow that and some clock slack.
    if value < 0:
        c.add(name, WARN, f"processing_time {value} is negative")
    elif value > round_trip + 0.5:
        c.add(
            name,
            WARN,
            f"processing_time {value} s exceeds the {round_trip:.3f} s round trip "
            "(it is in seconds)",
        )
    else:
        c.add(name, PASS, f"processing_time {value} s within a {round_trip:.3f} s round trip")


def _chat_problem(ex: Exchange) -> str | None:
    """Why a chat exchange is not a usable answer, or None when it is."""
    if ex.status == 200 and isinstance(ex.body, dict) and _answer_of(ex.body) is not None:
        return None
    if ex.status == 200:
        return "HTTP 200 without an answer under 'response' (or an older key)"
    return ex.summary()


async def _check_chat_variants(c: _Checker) -> None:
    """chat.defaults (fail) and chat.extensions (warn)."""
    ex = await c.call("POST", "/api/chat", {"prompt": _PROMPT})
    problem = _chat_problem(ex)
    if problem is None:
        c.add("chat.defaults", PASS, "a body with only 'prompt' is answered", ex.latency_ms)
    else:
        reason = f"a body with only 'prompt' (temperature and max_tokens default): {problem}"
        c.add("chat.defaults", FAIL, reason, ex.latency_ms)
    body = {**_CHAT_BODY, "seed": 7, "stop": ["\n\n"]}
    ex = await c.call("POST", "/api/chat", body)
    if ex.status == 200:
        c.add("chat.extensions", PASS, "accepts the seed and stop extensions", ex.latency_ms)
    else:
        reason = f"a request with seed and stop got {ex.summary()}; ignore unknown fields"
        c.add("chat.extensions", WARN, reason, ex.latency_ms)


async def _sample_latency(c: _Checker, requests: int) -> list[float]:
    """latency: ``requests`` sequential chats; any failure fails the check."""
    nonce = secrets.token_hex(3)  # so a response cache does not answer every sample
    samples: list[float] = []
    failures: list[str] = []
    for i in range(requests):
        prompt = f"{_SAMPLE_PROMPTS[i % len(_SAMPLE_PROMPTS)]} ({nonce}-{i})"
        ex = await c.call("POST", "/api/chat", {**_CHAT_BODY, "prompt": prompt})
        problem = _chat_problem(ex)
        if problem is None:
            samples.append(ex.latency_ms)
        else:
            failures.append(problem)
    if failures:
        reason = f"{len(failures)} of {requests} requests failed, first: {failures[0]}"
        c.add("latency", FAIL, reason)
    elif samples:
        p50, p95 = _percentile(samples, 50), _percentile(samples, 95)
        reason = f"p50 {p50:.0f} ms, p95 {p95:.0f} ms over {requests} requests"
        c.add("latency", PASS, reason, p50)
    return samples


def _judge_error_answer(ex: Exchange, expected: str) -> tuple[CheckStatus, str]:
    """How a miner answered bad input: 4xx with a JSON error passes; 5xx, 200 warn."""
    if ex.error is not None:
        return FAIL, f"{ex.error} (the miner must answer bad input with an error)"
    status = ex.status or 0
    problems = []
    if 200 <= status < 300:
        problems.append(f"accepted it with HTTP {status}; expected {expected}")
    elif not 400 <= status < 500:
        problems.append(f"HTTP {status}; expected {expected}")
    if status >= 400 and not _is_error_body(ex.body):
        problems.append('the error body is not JSON {"error": "..."}: ' + ex.summary())
    if problems:
        return WARN, "; ".join(problems)
    return PASS, ex.summary()


async def _check_bad_input(c: _Checker) -> None:
    """errors.*: bad request bodies and an unknown model type."""
    for name, what, body in _BAD_INPUTS:
        ex = await c.call("POST", "/api/chat", body)
        status, reason = _judge_error_answer(ex, "a 4xx")
        c.add(name, status, f"{what}: {reason}", ex.latency_ms)
    unknown = f"no-such-model-{secrets.token_hex(3)}"
    ex = await c.call("POST", f"/api/chat/{unknown}", _CHAT_BODY)
    status, reason = _judge_error_answer(ex, "404")
    if status is PASS and ex.status != 404:
        status, reason = WARN, f"HTTP {ex.status}; expected 404 for an unknown model type"
    c.add("errors.unknown_model_type", status, f"/api/chat/{unknown}: {reason}", ex.latency_ms)


async def _check_health_again(c: _Checker, first: _Health) -> None:
    """health.recheck (fail) and health.uptime_advances (warn)."""
    wait = first.at + UPTIME_GAP_S - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
    ex = await c.call("GET", "/health")
    elapsed = time.monotonic() - first.at
    body = ex.body if isinstance(ex.body, dict) else {}
    if ex.status != 200 or body.get("status") != "healthy":
        c.add("health.recheck", FAIL, f"after the checks /health gave {ex.summary()}")
        return
    c.add("health.recheck", PASS, "still healthy after the checks", ex.latency_ms)
    now = _uptime_of(body)
    name = "health.uptime_advances"
    if first.uptime_s is None or now is None:
        c.add(name, WARN, "cannot tell: uptime is not like '2h 15m 30s'")
    elif now > first.uptime_s + elapsed + 2:  # 2 s: seconds resolution and clock slack
        reason = (
            f"uptime jumped {now - first.uptime_s:g} s in {elapsed:.1f} s; report time since start"
        )
        c.add(name, WARN, reason)
    elif now > first.uptime_s:
        c.add(name, PASS, f"uptime advanced {now - first.uptime_s:g} s in {elapsed:.1f} s")
    elif now == first.uptime_s:
        reason = (
            f"uptime stayed {first.uptime_text!r} over {elapsed:.1f} s; report time since start"
        )
        c.add(name, WARN, reason)
    else:
        c.add(name, WARN, f"uptime went back from {first.uptime_s:g} s to {now:g} s (restarted?)")


async def _check_relay_protection(c: _Checker) -> bool:
    """``chat.signed_only``: does the miner refuse chat requests the coordinator did not
    sign for it (so relaying network requests to it fails)? True when it does. Either
    way a ``pass``: the contract does not require it; the reason says which."""
    ex = await c.call("POST", "/api/chat", _CHAT_BODY, sign=False)
    name = "chat.signed_only"
    if ex.status == 401:
        c.add(
            name, PASS, "on: refuses requests not signed by the coordinator for it", ex.latency_ms
        )
        return True
    c.add(
        name,
        PASS,
        "off: answers requests the coordinator did not sign, so other miners can relay "
        "network requests to it (TENSORNODE_MINER__COORDINATOR_KEY and __PUBLIC_URL turn "
        "it on)",
        ex.latency_ms,
    )
    return False


async def _run(c: _Checker, requests: int, model_type: str | None) -> CheckReport:
    first = await _check_health(c)
    reachable = bool(c.results) and c.results[0].status is PASS
    samples: list[float] = []
    signed_only = reachable and await _check_relay_protection(c)
    if signed_only and c.signer is None:
        await _check_info(c)
        c.add(
            "chat",
            WARN,
            "the miner answers only the coordinator's signed requests: chat checks skipped "
            "(the coordinator runs them, signed, on POST /miners)",
        )
    elif reachable:
        await _check_info(c)
        await _check_chat(c, "/api/chat", "chat")
        await _check_chat_variants(c)
        await check_chat_stream(c)
        await check_openai(c)
        samples = await _sample_latency(c, requests)
        await _check_bad_input(c)
        if model_type:
            await _check_chat(c, f"/api/chat/{quote(model_type, safe='')}", f"chat/{model_type}")
        if first is not None:
            await _check_health_again(c, first)
    return CheckReport(
        url=c.base_url,
        reachable=reachable,
        ok=all(r.status is not FAIL for r in c.results),
        results=c.results,
        latency_p50_ms=round(_percentile(samples, 50), 1) if samples else None,
        latency_p95_ms=round(_percentile(samples, 95), 1) if samples else None,
        latency_samples=len(samples),
    )


async def check_miner(
    base_url: str,
    *,
    client: httpx.AsyncClient | None = None,
    timeout: float = 30.0,
    requests: int = 3,
    model_type: str | None = None,
    echo: bool = True,
    signer: RequestSigner | None = None,
) -> CheckReport:
    """Check the miner at ``base_url`` against the contract and return every verdict.

    ``echo=False`` (the coordinator checking someone's endpoint) keeps what the endpoint
    answered out of the reasons.

    ``client`` is used as given (its transport, proxies, headers) and left open; without
    one a client is made and closed here. ``timeout`` bounds each request, ``requests``
    is how many chat requests sample latency, and ``model_type`` also checks
    ``POST /api/chat/<model_type>``. ``signer`` (the coordinator's key) signs the chat
    requests, as the network's own would be. Never raises on anything the miner does.
    """
    c_url = base_url.strip().rstrip("/")
    if client is not None:
        checker = _Checker(client, c_url, timeout, echo=echo, signer=signer)
        return await _run(checker, requests, model_type)
    async with httpx.AsyncClient(follow_redirects=False) as own:
        checker = _Checker(own, c_url, timeout, echo=echo, signer=signer)
        return await _run(checker, requests, model_type)
