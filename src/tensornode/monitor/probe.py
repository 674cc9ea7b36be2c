"""One health probe: ``GET {endpoint}/health`` with a timeout, judged by the miner contract.

A probe succeeds when the miner answers 200 with a JSON object whose ``status`` is
``"healthy"`` and whose ``model_loaded`` (when present) is true. Anything else (a
refused connection, a timeout, another status, a body that is not the contract's) is a
failure with a one-line reason. Probes never raise: the monitor records every outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tensornode.runtimes.identity import nonce_problem


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one probe."""

    ok: bool
    latency_s: float
    at: datetime
    status_code: int | None = None
    error: str | None = None

    @property
    def result(self) -> str:
        """The label the metrics use: ``ok``, ``timeout``, ``unreachable`` or ``unhealthy``."""
        if self.ok:
            return "ok"
        if self.error is not None and self.error.startswith("timed out"):
            return "timeout"
        if self.status_code is None:
            return "unreachable"
        return "unhealthy"


def judge_health(
    status_code: int, body: object, nonce: str | None = None, *, nonce_required: bool = False
) -> str | None:
    """Why a ``/health`` answer is not healthy (or not our miner's), or None when it is."""
    if status_code != 200:
        return f"/health answered {status_code}"
    if not isinstance(body, dict):
        return "/health did not answer a JSON object"
    status = body.get("status")
    if not isinstance(status, str) or status.lower() != "healthy":
        return f"/health status is {status!r}, not 'healthy'"
    if body.get("model_loaded", True) is not True:
        return "/health says the model is not loaded"
    return nonce_problem(body, nonce, required=nonce_required)


async def probe_health(
    client: httpx.AsyncClient,
    endpoint: str,
    *,
    timeout: float,
    nonce: str | None = None,
    nonce_required: bool = False,
) -> ProbeResult:
    """Probe ``endpoint``'s ``/health`` once; never raises for a miner's failure."""
    at = datetime.now(UTC)
    started = time.perf_counter()
    url = endpoint.rstrip("/") + "/health"
    try:
        response = await client.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return _failed(started, at, f"timed out after {timeout:g}s")
    except httpx.HTTPError as exc:
        return _failed(started, at, f"cannot reach {url}: {type(exc).__name__}")
    latency = time.perf_counter() - started
    try:
        body: object = response.json()
    except ValueError:
        body = None
    reason = judge_health(response.status_code, body, nonce, nonce_required=nonce_required)
    return ProbeResult(
        ok=reason is None,
        latency_s=latency,
        at=at,
        status_code=response.status_code,
        error=reason,
    )


def _failed(started: float, at: datetime, error: str) -> ProbeResult:
    return ProbeResult(ok=False, latency_s=time.perf_counter() - started, at=at, error=error)
