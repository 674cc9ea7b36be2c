"""Per-miner request metrics: tallied in memory, read by Prometheus, batched into the database.

Every attempt on a miner passes through :meth:`RequestRecorder.record`, on the request's
hot path, so recording is a few additions on plain objects (``__slots__``, ints and
floats): no lock, no Prometheus client call, nothing allocated but a (miner, minute) key.
All of it runs on the event loop, as does ``GET /metrics``, so nothing is shared
between threads.

- Prometheus: :class:`GatewayMetrics` keeps each miner's running totals and registers one
  collector on the registry that turns them into metric families when ``/metrics`` is
  scraped.
- The database: attempts are summed per miner and minute into a
  :class:`~tensornode.db.metrics.RequestTally` (count, errors, latency sum, tokens,
  latency buckets) and written with :func:`~tensornode.db.metrics.record_request_windows`
  every ``flush_interval_s``, or as soon as ``flush_max_samples`` attempts wait; never one
  write per request. A failed write keeps the windows for the next flush (merged into
  those filled meanwhile), up to ten batches' worth of windows; the oldest minutes beyond
  that are dropped with a warning. Gateway keys used since the last flush get their
  ``last_used_at`` then too.

Prometheus series (on the app's registry, next to the monitor's, served at ``/metrics``):

- ``tensornode_gateway_requests_total{miner_id, outcome}``: ok, error, client_error
- ``tensornode_gateway_upstream_latency_seconds{miner_id}``: a miner's time to answer
- ``tensornode_gateway_tokens_total{miner_id, kind}``: prompt, completion
- ``tensornode_gateway_overhead_seconds``: the gateway's own time per user request
- ``tensornode_gateway_rejected_total{reason}``: unauthenticated, rate_limited,
  no_miner, busy, failed (every tried miner failed); a plain ``Counter`` (a rare path)

Exports :class:`GatewayMetrics` (``series(miner_id)``, ``overhead.observe(seconds)``,
``rejected``), :class:`RequestRecorder`, the plain tallies :class:`MinerTotals` and
:class:`FixedHistogram`, and the bucket bounds ``UPSTREAM_BUCKETS``, ``OVERHEAD_BUCKETS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString
from sqlalchemy import update

from tensornode.config import GatewaySettings
from tensornode.db.metrics import LATENCY_BUCKETS_MS, RequestTally, record_request_windows
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.gateway.models import GatewayKey

log = logging.getLogger(__name__)

UPSTREAM_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)

OUTCOMES = ("ok", "error", "client_error")


class FixedHistogram:
    """Observations counted in fixed buckets, and their sum.

    ``counts[i]`` holds the values in ``(bounds[i-1], bounds[i]]`` (a value on a bound
    falls in it, as Prometheus's ``le``); the last one, those above the top bound.
    """

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class MinerTotals:
    """One miner's running totals, as Prometheus shows them."""

    __slots__ = (
        "client_error",
        "completion_tokens",
        "created",
        "error",
        "latency",
        "ok",
        "prompt_tokens",
    )

    def __init__(self) -> None:
        self.ok = 0
        self.error = 0
        self.client_error = 0
        self.latency = FixedHistogram(UPSTREAM_BUCKETS)
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.created = self.latency.created


class GatewayMetrics:
    """The gateway's Prometheus series on a registry (the app's, or its own)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.overhead = FixedHistogram(OVERHEAD_BUCKETS)
        self._series: dict[str, MinerTotals] = {}
        self.registry.register(_GatewayCollector(self))
        self.rejected = Counter(
            "tensornode_gateway_rejected",
            "User requests refused or failed by the gateway, by reason.",
            ["reason"],
            registry=self.registry,
        )

    def series(self, miner_id: str) -> MinerTotals:
        """A miner's totals, created on first sight."""
        found = self._series.get(miner_id)
        if found is None:
            found = self._series[miner_id] = MinerTotals()
        return found

    def miners(self) -> list[tuple[str, MinerTotals]]:
        return list(self._series.items())


class _GatewayCollector:
    """Turns :class:`GatewayMetrics`' totals into metric families at each scrape."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        # the names alone, so that the registry refuses a clash with another collector's
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        requests, latency, tokens, overhead = self._families()
        for miner_id, series in self.metrics.miners():
            for outcome in OUTCOMES:
                requests.add_metric(
                    [miner_id, outcome], getattr(series, outcome), created=series.created
                )
            _add_histogram(latency, {"miner_id": miner_id}, series.latency)
            tokens.add_metric([miner_id, "prompt"], series.prompt_tokens, created=series.created)
            tokens.add_metric(
                [miner_id, "completion"], series.completion_tokens, created=series.created
            )
        _add_histogram(overhead, {}, self.metrics.overhead)
        yield from (requests, latency, tokens, overhead)

    @staticmethod
    def _families() -> tuple[
        CounterMetricFamily, HistogramMetricFamily, CounterMetricFamily, HistogramMetricFamily
    ]:
        return (
            CounterMetricFamily(
                "tensornode_gateway_requests",
                "Attempts on miners by outcome: ok, error, client_error.",
                labels=["miner_id", "outcome"],
            ),
            HistogramMetricFamily(
                "tensornode_gateway_upstream_latency_seconds",
                "Time a miner took to answer the gateway, failed attempts included.",
                labels=["miner_id"],
            ),
            CounterMetricFamily(
                "tensornode_gateway_tokens",
                "Tokens served by miners through the gateway, by kind: prompt, completion.",
                labels=["miner_id", "kind"],
            ),
            HistogramMetricFamily(
                "tensornode_gateway_overhead_seconds",
                "The gateway's own time per user request (total minus time waiting on miners).",
                labels=[],
            ),
        )


def _le(bound: float) -> str:
    """A bucket's ``le`` label as prometheus_client writes it (``1.0``, ``0.005``)."""
    return str(floatToGoString(bound))  # type: ignore[no-untyped-call]


def _add_histogram(
    family: HistogramMetricFamily, labels: dict[str, str], hist: FixedHistogram
) -> None:
    """Cumulative buckets and +Inf (which gives ``_count``), ``_sum`` and ``_created``."""
    buckets: list[tuple[str, float]] = []
    seen = 0
    for bound, n in zip(hist.bounds, hist.counts, strict=False):  # counts: one more
        seen += n
        buckets.append((_le(bound), seen))
    buckets.append(("+Inf", seen + hist.counts[-1]))
    family.add_metric(list(labels.values()), buckets, hist.sum)
    # HistogramMetricFamily takes no creation time; prometheus_client's Histogram shows one
    family.samples.append(Sample(family.name + "_created", labels, hist.created))


def _minute_start(minute: float) -> datetime:
    return datetime.fromtimestamp(minute * 60.0, UTC)


class RequestRecorder:
    """Tallies attempts; :meth:`flush` writes them (a background task calls it).

    ``wall_clock`` (seconds since the epoch, ``time.time`` by default) dates attempts to
    their minute; tests pass their own.
    """

    def __init__(
        self,
        db: Database,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.settings = settings
        self.metrics = metrics
        self._wall_clock = wall_clock
        self._flush_at = settings.flush_max_samples
        # a batch of flush_max_samples attempts spans at most as many windows
        self._max_windows = settings.flush_max_samples * 10
        self._windows: dict[tuple[str, float], RequestTally] = {}  # (miner, minute number)
        self._pending = 0
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
        if outcome == "ok":
            series.ok += 1
        elif outcome == "error":
            series.error += 1
        elif outcome == "client_error":
            series.client_error += 1
        else:
            raise ValueError(f"unknown outcome {outcome!r}")
        # FixedHistogram.observe and RequestTally.add inlined: this runs per attempt
        latency = series.latency
        latency.counts[bisect_left(UPSTREAM_BUCKETS, latency_s)] += 1
        latency.sum += latency_s
        tokens = prompt_tokens + completion_tokens
        if tokens:
            series.prompt_tokens += prompt_tokens
            series.completion_tokens += completion_tokens

        key = (miner_id, self._wall_clock() // 60.0)
        tally = self._windows.get(key)
        if tally is None:
            tally = self._windows[key] = RequestTally()
        latency_ms = latency_s * 1000.0
        tally.count += 1
        if outcome == "error":
            tally.errors += 1
        tally.latency_ms_sum += latency_ms
        tally.tokens += tokens
        tally.buckets[bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1
        self._pending += 1
        if self._pending >= self._flush_at:
            self._full.set()

    def key_used(self, key_id: int) -> None:
        self._keys_used.add(key_id)

    @property
    def pending(self) -> int:
        """Attempts recorded and not written yet."""
        return self._pending

    async def flush(self) -> int:
        """Write what is waiting; returns how many attempts were written."""
        async with self._lock:
            tallies, self._windows = self._windows, {}
            pending, self._pending = self._pending, 0
            keys, self._keys_used = self._keys_used, set()
            self._full.clear()
            if not tallies and not keys:
                return 0
            windows = [
                tally.window(miner_id, _minute_start(minute))
                for (miner_id, minute), tally in tallies.items()
            ]
            try:
                async with self.db.session() as session:
                    if windows:
                        await record_request_windows(session, windows)
                    if keys:
                        await session.execute(
                            update(GatewayKey)
                            .where(GatewayKey.id.in_(keys))
                            .values(last_used_at=utcnow())
                        )
            except Exception as exc:  # keep them for the next flush rather than lose them
                self._requeue(tallies, keys)
                log.warning("gateway metrics flush failed: %s", exc, exc_info=exc)
                return 0
            return pending

    def _requeue(self, tallies: dict[tuple[str, float], RequestTally], keys: set[int]) -> None:
        for key, tally in tallies.items():
            kept = self._windows.get(key)
            if kept is None:
                self._windows[key] = tally
            else:  # the same miner and minute, recorded during the failed write
                kept.merge(tally)
            self._pending += tally.count
        self._keys_used |= keys
        excess = len(self._windows) - self._max_windows
        if excess > 0:
            oldest = heapq.nsmallest(excess, self._windows, key=lambda key: key[1])
            dropped = sum(self._windows.pop(key).count for key in oldest)
            self._pending -= dropped
            log.warning(
                "gateway metrics: dropping %d unwritten attempts (%d oldest miner-minutes)",
                dropped,
                excess,
            )

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
