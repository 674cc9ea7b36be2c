"""One request to one miner through the network's one miner client.

Probes are ordinary user traffic: ``POST /api/chat`` with ``{"prompt", "temperature",
"max_tokens"}`` (plus ``seed`` when asked), sent through the very client the gateway
uses for users (:class:`~tensornode.gateway.upstream.MinerUpstream`: same request line,
same header set in the same order, same keep-alive connections) with the body built by
the same :func:`~tensornode.gateway.upstream.chat_body` and signed by the coordinator
like every user request (:mod:`tensornode.net.signing`). A miner receives the same bytes
from a probe as from a user, so it cannot serve validators better than users.

Latency runs from just before the request is handed to the client (after the
validator's own concurrency slot let it go) to the last byte of the answer.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from typing import Any, Protocol

from tensornode.contracts.miner import ANSWER_KEYS
from tensornode.gateway.failover import AttemptFailed
from tensornode.gateway.upstream import MinerUpstream, Upstream, chat_body
from tensornode.net.signing import HEADER, endpoint_id
from tensornode.scoring.schemas import Challenge, MinerTarget, ProbeResult

MAX_RESPONSE_BYTES = 64 * 1024


class Signer(Protocol):
    """Makes the signature header of a request (:class:`RequestSigner`, or
    :class:`Presigned` headers the coordinator handed a remote validator)."""

    def header(self, endpoint: str, body: bytes) -> str: ...


class Presigned:
    """Headers the coordinator signed in advance, looked up by miner and body."""

    def __init__(self, headers: Mapping[tuple[str, bytes], str]) -> None:
        self._headers = {
            (endpoint_id(e), hashlib.sha256(b).digest()): h for (e, b), h in headers.items()
        }

    def header(self, endpoint: str, body: bytes) -> str:
        """The header signed for ``body`` to ``endpoint``; "" when none was (the miner
        may then refuse the request)."""
        return self._headers.get((endpoint_id(endpoint), hashlib.sha256(body).digest()), "")


class ProbeClient:
    """The miner client probes go through; share one per process.

    ``upstream`` defaults to a :class:`MinerUpstream` of its own (tests pass any
    :class:`Upstream`); ``signer`` signs each request for its miner (the coordinator's
    key; a remote validator has none).
    """

    def __init__(self, *, upstream: Upstream | None = None, signer: Signer | None = None) -> None:
        self.upstream: Upstream = upstream or MinerUpstream()
        self.signer = signer

    def headers(self, target: MinerTarget, body: bytes) -> dict[str, str] | None:
        """The signature header for ``body`` sent to ``target`` (None without a key)."""
        if self.signer is None:
            return None
        value = self.signer.header(target.url, body)
        return {HEADER: value} if value else None

    async def prune(self) -> int:
        """Kept for the round's call; the client's pools expire idle connections."""
        return 0

    async def aclose(self) -> None:
        """Close every connection."""
        await self.upstream.aclose()

    async def __aenter__(self) -> ProbeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


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
    client: ProbeClient,
    target: MinerTarget,
    payload: dict[str, Any],
    *,
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> ProbeResult:
    """POST ``payload`` to the miner's chat endpoint and classify what came back."""
    miner = target.miner_id
    body = chat_body(payload)
    headers = client.headers(target, body)
    started = time.perf_counter()
    try:
        status, answer = await client.upstream.post_json(
            target.chat_url, body, timeout=timeout, headers=headers
        )
    except AttemptFailed as failure:
        if failure.timeout:
            return ProbeResult(miner, "timeout", error=f"no answer within {timeout:g}s")
        return ProbeResult(miner, "error", error=failure.reason)
    latency = time.perf_counter() - started
    if len(answer) > max_bytes:
        return ProbeResult(
            miner, "error", http_status=status, error=f"response over {max_bytes} bytes"
        )
    return _classify(miner, status, answer, latency)


def _classify(miner: str, status: int, body: bytes, latency: float | None) -> ProbeResult:
    def error(reason: str) -> ProbeResult:
        return ProbeResult(miner, "error", latency_s=latency, http_status=status, error=reason)

    if status != 200:
        return error(f"HTTP {status}")
    try:
        parsed = json.loads(body)
    except ValueError:
        return error("response is not JSON")
    answer = answer_from(parsed)
    if answer is None:
        return error(f"no answer under {'|'.join(ANSWER_KEYS)}")
    return ProbeResult(miner, "ok", answer=answer, latency_s=latency, http_status=status)
