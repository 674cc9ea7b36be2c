"""Health probes per miner and hour; request metrics per miner and minute, with p95."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from tensornode.db.metrics import (
    LATENCY_BUCKETS_MS,
    RequestSample,
    RequestWindow,
    health_stats,
    percentile_from_buckets,
    record_probe,
    record_request_windows,
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


async def test_samples_and_windows_of_the_same_requests_write_the_same_rows(
    db: Database,
) -> None:
    by_samples = await _miner(db)
    async with db.session() as session:  # a second miner, to be written by windows
        session.add(Miner(id="m2", owner_id="0.0.9", kind="external", name="b",
                          endpoint="http://127.0.0.1:2", status="active", restarts=0))  # fmt: skip
    later = NOW + timedelta(minutes=1, seconds=30)
    first = [
        RequestSample(by_samples, 40.0, ok=True, at=NOW, tokens=7),
        RequestSample(by_samples, 2000.0, ok=False, at=NOW + timedelta(seconds=59)),
        RequestSample(by_samples, 70000.0, ok=True, at=later, tokens=3),
    ]
    second = [RequestSample(by_samples, 10.0, ok=True, at=later)]
    above = len(LATENCY_BUCKETS_MS)  # the bucket over the top bound
    windows_first = [  # the same requests summed by hand, NOW's minute in two pieces
        RequestWindow("m2", NOW, count=1, errors=0, latency_ms_sum=40.0, tokens=7,
                      buckets=_buckets({2: 1})),
        RequestWindow("m2", NOW, count=1, errors=1, latency_ms_sum=2000.0, tokens=0,
                      buckets=_buckets({7: 1})),
        RequestWindow("m2", later, count=1, errors=0, latency_ms_sum=70000.0, tokens=3,
                      buckets=_buckets({above: 1})),
        RequestWindow("m2", NOW + timedelta(minutes=5), count=0, errors=0, latency_ms_sum=0.0,
                      tokens=0, buckets=_buckets({})),  # empty: no row
    ]  # fmt: skip
    windows_second = [
        RequestWindow("m2", later, count=1, errors=0, latency_ms_sum=10.0, tokens=0,
                      buckets=_buckets({0: 1})),
    ]  # fmt: skip
    for samples, windows in ((first, windows_first), (second, windows_second)):
        async with db.session() as session:  # the second batch adds to existing rows
            await record_requests(session, samples)
            await record_request_windows(session, windows)

    async with db.session() as session:
        rows = (await session.scalars(select(MinerRequests))).all()
    written = {
        miner_id: sorted(
            (r.window_start, r.count, r.errors, r.latency_ms_sum, r.tokens, r.buckets)
            for r in rows
            if r.miner_id == miner_id
        )
        for miner_id in (by_samples, "m2")
    }
    minute = NOW + timedelta(minutes=1)
    assert written[by_samples] == [
        (NOW, 2, 1, 2040.0, 7, list(_buckets({2: 1, 7: 1}))),
        (minute, 2, 0, 70010.0, 3, list(_buckets({0: 1, above: 1}))),
    ]
    assert written["m2"] == written[by_samples]


def _buckets(counts: dict[int, int]) -> tuple[int, ...]:
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for index, n in counts.items():
        buckets[index] = n
    return tuple(buckets)


def test_percentile_from_buckets() -> None:
    empty = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    assert percentile_from_buckets(empty, 0.95) is None
    one_slow = list(empty)
    one_slow[-1] = 1
    assert percentile_from_buckets(one_slow, 0.95) == LATENCY_BUCKETS_MS[-1]
