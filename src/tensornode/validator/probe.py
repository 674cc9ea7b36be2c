"""One request to one miner, timed from the moment it is actually sent.

Probes are ordinary user traffic: ``POST /api/chat`` with ``{"prompt", "temperature",
"max_tokens"}`` (plus ``seed`` when asked), the JSON content-type and accept headers and
nothing else of our own (the shared client's user agent is the gateway's too), so a
miner cannot serve validators better than users.

Latency runs from httpcore's ``send_request_headers.started`` trace event (after the
validator's own semaphore and the connection pool have granted a connection, and after
any TCP connect) to the last byte of the body; so queueing inside the validator is never
charged to a miner. The deadline, ``timeout`` seconds, is re-armed at that same moment;
before it, connecting has its own ``timeout`` allowance.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from tensornode.contracts.miner import ANSWER_KEYS
from tensornode.validator.schemas import Challenge, MinerTarget, ProbeResult

PROBE_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
MAX_RESPONSE_BYTES = 64 * 1024


def probe_payload(challenge: Challenge, seed: int | None = None) -> dict[str, Any]:
    """The request body for a challenge, shaped exactly like a user's request."""
    body: dict[str, Any] = {
        "prompt": challenge.prompt,
        "temperature": challenge.temperature,
        "max_tokens": challenge.max_tokens,
    }
    if seed is not None:
        body["seed"] = seed
    return body


def answer_from(body: object) -> str | None:
    """The answer text under ``response`` or an older key (``text|message|answer|output``)."""
    if not isinstance(body, dict):
        return None
    for key in ANSWER_KEYS:
        value = body.get(key)
        if isinstance(value, dict):  # {"message": {"content": ...}} (chat-style)
            value = value.get("content")
        if isinstance(value, str):
            return value
    return None


async def send_probe(
    client: httpx.AsyncClient,
    target: MinerTarget,
    payload: dict[str, Any],
    *,
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> ProbeResult:
    """POST ``payload`` to the miner's chat endpoint and classify what came back."""
    loop = asyncio.get_running_loop()
    sent_at: float | None = None
    miner = target.miner_id
    try:
        async with asyncio.timeout_at(loop.time() + 2 * timeout) as deadline:

            async def trace(event: str, info: dict[str, Any]) -> None:
                nonlocal sent_at
                if event.endswith("send_request_headers.started"):
                    sent_at = loop.time()
                    deadline.reschedule(sent_at + timeout)

            request = client.build_request(
                "POST",
                target.chat_url,
                json=payload,
                headers=PROBE_HEADERS,
                extensions={"trace": trace, "timeout": httpx.Timeout(timeout).as_dict()},
            )
            response = await client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > max_bytes:
                        return ProbeResult(miner, "error", error=f"response over {max_bytes} bytes")
            finally:
                await response.aclose()
            done = loop.time()
    except (TimeoutError, httpx.TimeoutException):
        return ProbeResult(miner, "timeout", error=f"no answer within {timeout:g}s")
    except httpx.HTTPError as exc:
        return ProbeResult(miner, "error", error=_describe(exc))
    latency = done - sent_at if sent_at is not None else None
    return _classify(miner, response.status_code, bytes(body), latency)


def _classify(miner: str, status: int, body: bytes, latency: float | None) -> ProbeResult:
    if status != 200:
        return ProbeResult(
            miner, "error", latency_s=latency, http_status=status, error=f"HTTP {status}"
        )
    try:
        parsed = json.loads(body)
    except ValueError:
        return ProbeResult(
            miner, "error", latency_s=latency, http_status=status, error="response is not JSON"
        )
    answer = answer_from(parsed)
    if answer is None:
        keys = "|".join(ANSWER_KEYS)
        return ProbeResult(
            miner, "error", latency_s=latency, http_status=status, error=f"no answer under {keys}"
        )
    return ProbeResult(miner, "ok", answer=answer, latency_s=latency, http_status=status)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {exc}" if str(exc) else "connection failed"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
