"""One request to one miner, timed from the moment it is actually sent.

Probes are ordinary user traffic: ``POST /api/chat`` with ``{"prompt", "temperature",
"max_tokens"}`` (plus ``seed`` when asked), built by httpx exactly as
``httpx.AsyncClient().post(url, json=body)`` builds it (same headers, same order, same
compact JSON), and nothing of our own, so a miner cannot serve validators better than
users. The gateway forwards user queries the same way.

Latency runs from httpcore's ``send_request_headers.started`` trace event (after the
validator's own semaphore has let the probe go and after any TCP connect) to the last
byte of the body; so queueing inside the validator is never charged to a miner. The
deadline, ``timeout`` seconds, is re-armed at that same moment; before it, connecting
has its own ``timeout`` allowance.

:class:`ProbeClient` keeps one small httpx transport (connection pool) per miner origin.
One shared pool for a thousand miners would not do: httpcore scans every pooled
connection for every queued request, which is quadratic in the number of miners.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from typing import Any

import httpx

from tensornode.contracts.miner import ANSWER_KEYS
from tensornode.scoring.schemas import Challenge, MinerTarget, ProbeResult

MAX_RESPONSE_BYTES = 64 * 1024


class ProbeClient:
    """Per-miner keep-alive connections for probes; share one per process.

    ``transport`` (tests) replaces every per-origin transport with one given transport,
    e.g. ``httpx.MockTransport``. Origins unused for ``idle_origin_s`` are closed by
    :meth:`prune`, which :func:`~tensornode.scoring.round.run_round` calls each round.
    """

    def __init__(
        self,
        *,
        connections_per_miner: int = 2,
        keepalive_expiry: float = 60.0,
        idle_origin_s: float = 900.0,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._limits = httpx.Limits(
            max_connections=connections_per_miner,
            max_keepalive_connections=connections_per_miner,
            keepalive_expiry=keepalive_expiry,
        )
        self._verify = verify
        self._ssl: ssl.SSLContext | None = None
        self._fixed = transport
        self._transports: dict[tuple[bytes, bytes, int | None], httpx.AsyncBaseTransport] = {}
        self._last_used: dict[tuple[bytes, bytes, int | None], float] = {}
        self._idle_origin_s = idle_origin_s
        self._builder = httpx.AsyncClient(follow_redirects=False, trust_env=False)

    def build_request(self, url: str, payload: dict[str, Any], **extensions: Any) -> httpx.Request:
        """The request ``httpx.AsyncClient().post(url, json=payload)`` would send."""
        return self._builder.build_request("POST", url, json=payload, extensions=extensions)

    def transport_for(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        """The connection pool of ``url``'s origin (created on first use)."""
        if self._fixed is not None:
            return self._fixed
        key = (url.raw_scheme, url.raw_host, url.port)
        self._last_used[key] = time.monotonic()
        transport = self._transports.get(key)
        if transport is None:
            if self._ssl is None:  # one SSL context for every origin (building one is slow)
                self._ssl = (
                    self._verify
                    if isinstance(self._verify, ssl.SSLContext)
                    else httpx.create_ssl_context(verify=self._verify)
                )
            transport = httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits)
            self._transports[key] = transport
        return transport

    async def prune(self) -> int:
        """Close the pools of origins not probed for ``idle_origin_s``; how many."""
        cutoff = time.monotonic() - self._idle_origin_s
        stale = [k for k, t in self._last_used.items() if t < cutoff]
        for key in stale:
            del self._last_used[key]
            await self._transports.pop(key).aclose()
        return len(stale)

    async def aclose(self) -> None:
        """Close every connection."""
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()
        self._last_used.clear()
        await self._builder.aclose()

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

            timeouts = httpx.Timeout(timeout).as_dict()
            request = client.build_request(target.chat_url, payload, trace=trace, timeout=timeouts)
            response = await client.transport_for(request.url).handle_async_request(request)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
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


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {exc}" if str(exc) else "connection failed"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
