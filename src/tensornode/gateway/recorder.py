"""Per-miner request metrics: Prometheus at once, the database in batches.

Each attempt on a miner is one :class:`~tensornode.db.metrics.RequestSample` (latency,
ok, tokens); samples are kept in memory and written with
:func:`~tensornode.db.metrics.record_requests` every ``flush_interval_s`` or as soon as
``flush_max_samples`` are waiting, never one write per request. A failed write keeps
the samples for the next flush (up to ten batches; older ones are dropped with a
warning). Gateway keys used since the last flush get their ``last_used_at`` then too.

Prometheus (on the app's registry, next to the monitor's, served at ``/metrics``):

- ``tensornode_gateway_requests_total{miner_id, outcome}``: ok, error, client_error
- ``tensornode_gateway_upstream_latency_seconds{miner_id}``: a miner's time to answer
- ``tensornode_gateway_tokens_total{miner_id, kind}``: prompt, completion
- ``tensornode_gateway_overhead_seconds``: the gateway's own time per user request
- ``tensornode_gateway_rejected_total{reason}``: unauthenticated, rate_limited,
  no_miner, busy, failed (every tried miner failed)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import update

from tensornode.config import GatewaySettings
from tensornode.db.metrics import RequestSample, record_requests
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.gateway.models import GatewayKey

log = logging.getLogger(__name__)

UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)


@dataclass
class _MinerSeries:
    """Pre-resolved label children of one miner (``labels()`` is not free)."""

    ok: Counter
    error: Counter
    client_error: Counter
    latency: Histogram
    prompt_tokens: Counter
    completion_tokens: Counter


class GatewayMetrics:
    """The gateway's Prometheus series on a registry (the app's, or its own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "tensornode_gateway_requests",
            "Attempts on miners by outcome: ok, error, client_error.",
            ["miner_id", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tensornode_gateway_upstream_latency_seconds",
            "Time a miner took to answer the gateway, failed attempts included.",
            ["miner_id"],
            buckets=UPSTREAM_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "tensornode_gateway_tokens",
            "Tokens served by miners through the gateway, by kind: prompt, completion.",
            ["miner_id", "kind"],
            registry=self.registry,
        )
        self.overhead = Histogram(
            "tensornode_gateway_overhead_seconds",
            "The gateway's own time per user request (total minus time waiting on miners).",
            buckets=OVERHEAD_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "tensornode_gateway_rejected",
            "User requests refused or failed by the gateway, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self._series: dict[str, _MinerSeries] = {}

    def series(self, miner_id: str) -> _MinerSeries:
        found = self._series.get(miner_id)
        if found is None:
            found = _MinerSeries(
                ok=self.requests.labels(miner_id, "ok"),
                error=self.requests.labels(miner_id, "error"),
                client_error=self.requests.labels(miner_id, "client_error"),
                latency=self.latency.labels(miner_id),
                prompt_tokens=self.tokens.labels(miner_id, "prompt"),
                completion_tokens=self.tokens.labels(miner_id, "completion"),
            )
            self._series[miner_id] = found
        return found


class RequestRecorder:
    """Collects attempts; :meth:`flush` writes them (a background task calls it)."""

    def __init__(self, db: Database, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self._samples: list[RequestSample] = []
        self._keys_used: set[int] = set()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(
        self,
        miner_id: str,
        latency_s: float,
        outcome: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
    ) -> None:
        """One attempt on a miner: ``outcome`` is ok, error or client_error."""
        series = self.metrics.series(miner_id)
        getattr(series, outcome).inc()
        series.latency.observe(latency_s)
        if prompt_tokens:
            series.prompt_tokens.inc(prompt_tokens)
        if completion_tokens:
            series.completion_tokens.inc(completion_tokens)
        self._samples.append(
            RequestSample(
                miner_id=miner_id,
                latency_ms=latency_s * 1000.0,
                ok=outcome != "error",
                at=utcnow(),
                tokens=prompt_tokens + completion_tokens,
            )
        )
        if len(self._samples) >= self.settings.flush_max_samples:
            self._full.set()

    def key_used(self, key_id: int) -> None:
        self._keys_used.add(key_id)

    @property
    def pending(self) -> int:
        return len(self._samples)

    async def flush(self) -> int:
        """Write what is waiting; returns how many samples were written."""
        async with self._lock:
            samples, self._samples = self._samples, []
            keys, self._keys_used = self._keys_used, set()
            self._full.clear()
            if not samples and not keys:
                return 0
            try:
                async with self.db.session() as session:
                    if samples:
                        await record_requests(session, samples)
                    if keys:
                        await session.execute(
                            update(GatewayKey)
                            .where(GatewayKey.id.in_(keys))
                            .values(last_used_at=utcnow())
                        )
            except Exception as exc:  # keep them for the next flush rather than lose them
                self._requeue(samples, keys)
                log.warning("gateway metrics flush failed: %s", exc, exc_info=exc)
                return 0
            return len(samples)

    def _requeue(self, samples: list[RequestSample], keys: set[int]) -> None:
        limit = self.settings.flush_max_samples * 10
        merged = samples + self._samples
        if len(merged) > limit:
            log.warning("gateway metrics: dropping %d unwritten samples", len(merged) - limit)
            merged = merged[-limit:]
        self._samples = merged
        self._keys_used |= keys

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="gateway-recorder"
            )

    async def _run(self) -> None:
        while True:
            # a full batch flushes at once; otherwise the period's end does
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.settings.flush_interval_s)
            await self.flush()

    async def close(self) -> None:
        """Stop the background flusher and write what is left."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()
