"""Health probes per miner and hour; request metrics per miner and minute, with p95."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from tensornode.db.metrics import (
    LATENCY_BUCKETS_MS,
    RequestSample,
    health_stats,
    percentile_from_buckets,
    record_probe,
    record_requests,
    request_stats,
)
from tensornode.db.models import VM, Account, Miner, MinerHealth, MinerRequests
from tensornode.db.session import Database

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


async def _miner(db: Database) -> str:
    async with db.session() as session:
        session.add(Account(id="0.0.9", created_at=NOW))
        session.add(
            VM(
                id="vm1", owner_id="0.0.9", name="a", provider="local", configuration="c",
                status="active", open_ports=[], port_map={}, price_per_epoch_usd=Decimal("1"),
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            Miner(
                id="m1", owner_id="0.0.9", vm_id="vm1", kind="managed", name="a",
                endpoint="http://127.0.0.1:1", status="active", restarts=0,
            )
        )  # fmt: skip
    return "m1"


async def test_record_probe_aggregates_per_hour(db: Database) -> None:
    miner_id = await _miner(db)
    async with db.session() as session:
        await record_probe(session, miner_id, ok=True, latency_ms=10, at=NOW)
        await record_probe(session, miner_id, ok=True, latency_ms=30, at=NOW + timedelta(minutes=5))
        await record_probe(session, miner_id, ok=False, error="timeout", at=NOW)
        await record_probe(session, miner_id, ok=True, latency_ms=5, at=NOW + timedelta(hours=1))
    async with db.session() as session:
        rows = (await session.scalars(select(MinerHealth).order_by(MinerHealth.window_start))).all()
        stats = await health_stats(session, miner_id, since=NOW - timedelta(hours=1))
        miner = await session.get(Miner, miner_id)
    assert [(r.probes, r.successes, r.latency_ms_sum, r.last_error) for r in rows] == [
        (3, 2, 40.0, "timeout"),
        (1, 1, 5.0, None),
    ]
    assert (stats.probes, stats.successes, stats.availability) == (4, 3, 0.75)
    assert miner is not None and miner.last_probe_ok is True


async def test_record_requests_counts_errors_average_and_p95(db: Database) -> None:
    miner_id = await _miner(db)
    # 100 requests: 90 fast (40 ms), 10 slow (2000 ms), 5 of them errors
    samples = [RequestSample(miner_id, 40.0, ok=True, at=NOW) for _ in range(90)]
    samples += [RequestSample(miner_id, 2000.0, ok=i >= 5, at=NOW) for i in range(10)]
    async with db.session() as session:
        await record_requests(session, samples[:50])
    async with db.session() as session:  # a second batch adds to the same minute
        await record_requests(session, samples[50:])
    async with db.session() as session:
        rows = (await session.scalars(select(MinerRequests))).all()
        stats = await request_stats(session, miner_id)
    assert len(rows) == 1
    assert (stats.count, stats.errors) == (100, 5)
    assert stats.avg_latency_ms == (90 * 40 + 10 * 2000) / 100
    assert stats.p95_latency_ms == 2500  # the upper bound of the 1000-2500 ms bucket


def test_percentile_from_buckets() -> None:
    empty = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    assert percentile_from_buckets(empty, 0.95) is None
    one_slow = list(empty)
    one_slow[-1] = 1
    assert percentile_from_buckets(one_slow, 0.95) == LATENCY_BUCKETS_MS[-1]
