"""The gateway's recorder without HTTP: Prometheus exposition of its in-memory tallies,
attempts summed per miner and minute into miner_requests, and a failed write kept."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from factories import new_wallet
from tensornode.config import GatewaySettings
from tensornode.db.metrics import LATENCY_BUCKETS_MS
from tensornode.db.models import Account, Miner, MinerRequests
from tensornode.db.session import Database
from tensornode.gateway.recorder import GatewayMetrics, RequestRecorder
from tensornode.monitor.metrics import MonitorMetrics

T0 = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


class Clock:
    """The recorder's wall clock, moved by hand."""

    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, at: datetime) -> None:
        self.now = at.timestamp()


class FlakyDatabase:
    """A real database whose sessions fail while ``down`` (as when the server is away)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.down = False
        self.meanwhile: Callable[[], None] | None = None  # what happens while it is tried

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        if self.meanwhile is not None:
            self.meanwhile()
        if self.down:
            raise ConnectionRefusedError("database is down")
        async with self.db.session() as session:
            yield session


async def _miners(db: Database, n: int) -> list[str]:
    owner = new_wallet()
    async with db.session() as session:
        session.add(Account(id=owner, created_at=T0))
        await session.flush()
        miners = [
            Miner(owner_id=owner, kind="external", name=f"m{i}", endpoint="http://127.0.0.1:9",
                  status="active", restarts=0)
            for i in range(n)
        ]  # fmt: skip
        session.add_all(miners)
    return [miner.id for miner in miners]


async def _rows(db: Database) -> list[tuple[str, datetime, int, int, float, int, list[int]]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(MinerRequests).order_by(MinerRequests.window_start, MinerRequests.miner_id)
        )
        return [
            (r.miner_id, r.window_start, r.count, r.errors, r.latency_ms_sum, r.tokens, r.buckets)
            for r in rows
        ]


def _buckets(**counts: int) -> list[int]:
    """Bucket counts by upper bound in ms (``le50=2``; ``above=1`` for over the top)."""
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for name, n in counts.items():
        index = (
            len(LATENCY_BUCKETS_MS)
            if name == "above"
            else LATENCY_BUCKETS_MS.index(int(name.removeprefix("le")))
        )
        buckets[index] = n
    return buckets


def _recorder(db: object, clock: Clock, **settings: float) -> RequestRecorder:
    return RequestRecorder(
        db,  # type: ignore[arg-type]
        GatewaySettings(**settings),
        GatewayMetrics(),
        wall_clock=clock,
    )


def test_tallies_are_exposed_with_the_prometheus_names_and_buckets() -> None:
    metrics = GatewayMetrics()
    recorder = RequestRecorder(None, GatewaySettings(), metrics)  # type: ignore[arg-type]
    recorder.record("m1", 0.25, "ok", prompt_tokens=10, completion_tokens=20)  # on a bound
    recorder.record("m1", 0.5, "ok")
    recorder.record("m1", 100.0, "error")  # above the top bound
    recorder.record("m2", 0.001, "client_error", prompt_tokens=3)
    for seconds in (0.0002, 0.003, 1.0):
        metrics.overhead.observe(seconds)
    metrics.rejected.labels("busy").inc()

    lines = generate_latest(metrics.registry).decode().splitlines()
    for expected in [
        'tensornode_gateway_requests_total{miner_id="m1",outcome="ok"} 2.0',
        'tensornode_gateway_requests_total{miner_id="m1",outcome="error"} 1.0',
        'tensornode_gateway_requests_total{miner_id="m1",outcome="client_error"} 0.0',
        'tensornode_gateway_requests_total{miner_id="m2",outcome="client_error"} 1.0',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="0.1",miner_id="m1"} 0.0',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="0.25",miner_id="m1"} 1.0',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="0.5",miner_id="m1"} 2.0',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="60.0",miner_id="m1"} 2.0',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="+Inf",miner_id="m1"} 3.0',
        'tensornode_gateway_upstream_latency_seconds_count{miner_id="m1"} 3.0',
        'tensornode_gateway_upstream_latency_seconds_sum{miner_id="m1"} 100.75',
        'tensornode_gateway_upstream_latency_seconds_bucket{le="0.005",miner_id="m2"} 1.0',
        'tensornode_gateway_tokens_total{kind="prompt",miner_id="m1"} 10.0',
        'tensornode_gateway_tokens_total{kind="completion",miner_id="m1"} 20.0',
        'tensornode_gateway_tokens_total{kind="completion",miner_id="m2"} 0.0',
        'tensornode_gateway_overhead_seconds_bucket{le="0.0002"} 1.0',
        'tensornode_gateway_overhead_seconds_bucket{le="0.005"} 2.0',
        'tensornode_gateway_overhead_seconds_bucket{le="0.1"} 2.0',
        'tensornode_gateway_overhead_seconds_bucket{le="+Inf"} 3.0',
        "tensornode_gateway_overhead_seconds_count 3.0",
        f"tensornode_gateway_overhead_seconds_sum {0.0002 + 0.003 + 1.0!r}",
        'tensornode_gateway_rejected_total{reason="busy"} 1.0',
        "# TYPE tensornode_gateway_requests_total counter",
        "# TYPE tensornode_gateway_upstream_latency_seconds histogram",
    ]:
        assert expected in lines
    assert any(line.startswith("tensornode_gateway_requests_created{") for line in lines)


def test_histogram_buckets_are_cumulative_and_inf_is_the_count() -> None:
    metrics = GatewayMetrics()
    recorder = RequestRecorder(None, GatewaySettings(), metrics)  # type: ignore[arg-type]
    for i in range(200):
        recorder.record(f"m{i % 3}", (i % 17) * 0.37, "ok")
        metrics.overhead.observe((i % 11) * 0.0031)
    text = generate_latest(metrics.registry).decode()
    histograms = [
        f
        for f in text_string_to_metric_families(text)
        if f.type == "histogram" and f.name.startswith("tensornode_gateway")
    ]
    assert len(histograms) == 2
    for family in histograms:
        by_series: dict[str, list[tuple[str, float]]] = {}
        counts: dict[str, float] = {}
        for sample in family.samples:
            miner = sample.labels.get("miner_id", "")
            if sample.name.endswith("_bucket"):
                by_series.setdefault(miner, []).append((sample.labels["le"], sample.value))
            elif sample.name.endswith("_count"):
                counts[miner] = sample.value
        for miner, buckets in by_series.items():
            values = [value for _, value in buckets]
            assert values == sorted(values)
            assert buckets[-1] == ("+Inf", counts[miner])
    assert sum(counts.values()) == 200  # the overhead's count, the last family read


def test_the_collector_claims_its_names_on_a_shared_registry() -> None:
    registry = CollectorRegistry()
    MonitorMetrics(registry)
    GatewayMetrics(registry)  # next to the monitor's series
    with pytest.raises(ValueError, match="tensornode_gateway_requests_total"):
        Counter("tensornode_gateway_requests", "a clash", registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        GatewayMetrics(registry)


def test_an_unknown_outcome_is_refused_and_counts_nothing() -> None:
    recorder = _recorder(None, Clock(T0))
    with pytest.raises(ValueError, match="unknown outcome 'timeout'"):
        recorder.record("m1", 0.1, "timeout")
    assert recorder.pending == 0
    text = generate_latest(recorder.metrics.registry).decode()
    counted = [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("miner_id") == "m1" and not sample.name.endswith("_created")
    ]
    assert counted and all(sample.value == 0 for sample in counted)


async def test_attempts_are_summed_per_miner_and_minute(db: Database) -> None:
    m1, m2 = await _miners(db, 2)
    clock = Clock(T0 + timedelta(seconds=59.5))
    recorder = _recorder(db, clock, flush_interval_s=3600)
    recorder.record(m1, 0.0625, "ok", prompt_tokens=3, completion_tokens=4)
    recorder.record(m1, 0.5, "client_error")  # the user's fault: not a miner error
    clock.set(T0 + timedelta(seconds=60.5))  # the next minute
    recorder.record(m1, 2.0, "error")
    recorder.record(m1, 0.0078125, "ok", completion_tokens=5)
    recorder.record(m2, 120.0, "error")
    assert recorder.pending == 5
    assert await _rows(db) == []  # nothing written per attempt

    assert await recorder.flush() == 5
    assert recorder.pending == 0
    minute = T0 + timedelta(minutes=1)
    assert await _rows(db) == sorted(
        [
            (m1, T0, 2, 0, 562.5, 7, _buckets(le100=1, le500=1)),
            (m1, minute, 2, 1, 2007.8125, 5, _buckets(le10=1, le2500=1)),
            (m2, minute, 1, 1, 120000.0, 0, _buckets(above=1)),
        ],
        key=lambda row: (row[1], row[0]),
    )
    recorder.record(m1, 0.0625, "ok")  # a later batch adds to the minute's row
    assert await recorder.flush() == 1
    assert await recorder.flush() == 0
    later = (m1, minute, 3, 1, 2070.3125, 5, _buckets(le10=1, le100=1, le2500=1))
    assert later in await _rows(db)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_failed_write_keeps_the_attempts_for_the_next_flush(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    (m1,) = await _miners(db, 1)
    flaky = FlakyDatabase(db)
    clock = Clock(T0)
    recorder = _recorder(flaky, clock, flush_interval_s=3600)
    recorder.record(m1, 0.0625, "ok", prompt_tokens=2)
    recorder.record(m1, 2.0, "error")
    flaky.down = True
    flaky.meanwhile = lambda: recorder.record(m1, 0.0625, "ok")  # the same minute
    with caplog.at_level(logging.WARNING, "tensornode.gateway.recorder"):
        assert await recorder.flush() == 0
    assert "gateway metrics flush failed: database is down" in caplog.messages
    assert recorder.pending == 3
    flaky.meanwhile = None
    clock.set(T0 + timedelta(minutes=1))
    recorder.record(m1, 0.0625, "ok")
    flaky.down = False
    assert await recorder.flush() == 4
    assert await _rows(db) == [
        (m1, T0, 3, 1, 2125.0, 2, _buckets(le100=2, le2500=1)),
        (m1, T0 + timedelta(minutes=1), 1, 0, 62.5, 0, _buckets(le100=1)),
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_unwritten_windows_are_bounded_dropping_the_oldest_minutes(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    (m1,) = await _miners(db, 1)
    flaky = FlakyDatabase(db)
    clock = Clock(T0)
    recorder = _recorder(flaky, clock, flush_interval_s=3600, flush_max_samples=1)
    flaky.down = True
    for minute in range(12):  # 12 windows; ten batches of one attempt keep 10
        clock.set(T0 + timedelta(minutes=minute))
        recorder.record(m1, 0.0625, "ok")
        recorder.record(m1, 0.0625, "ok")
    with caplog.at_level(logging.WARNING, "tensornode.gateway.recorder"):
        assert await recorder.flush() == 0
    assert "gateway metrics: dropping 4 unwritten attempts (2 oldest miner-minutes)" in (
        caplog.messages
    )
    assert recorder.pending == 20
    flaky.down = False
    assert await recorder.flush() == 20
    rows = await _rows(db)
    assert [row[1] for row in rows] == [T0 + timedelta(minutes=m) for m in range(2, 12)]
    assert {row[2] for row in rows} == {2}
