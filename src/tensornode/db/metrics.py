"""Per-miner health probes and request metrics: writers and the figures read back.

Probes are aggregated per miner and hour (``miner_health``); requests per miner and
minute with a fixed-bucket latency histogram (``miner_requests``), so p95 is read from
summed buckets without keeping every sample. The monitor calls :func:`record_probe`.

Requests have one writer, :func:`record_request_windows`, which adds pre-summed windows
(:class:`RequestWindow`, one per miner and minute) to their rows. The gateway's recorder
sums its attempts into a :class:`RequestTally` per miner and minute as they happen and
writes its batches this way; :func:`record_requests` sums a list of single samples
(:class:`RequestSample`) the same way and writes through the same function.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.db.models import Miner, MinerHealth, MinerRequests, utcnow

LATENCY_BUCKETS_MS: tuple[float, ...] = (
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
)  # fmt: skip
"""Upper bounds of the histogram buckets; one more bucket counts everything above."""


@dataclass(frozen=True)
class RequestSample:
    """One request the gateway sent to a miner."""

    miner_id: str
    latency_ms: float
    ok: bool
    at: datetime | None = None
    tokens: int = 0  # prompt + completion, when the miner reported usage


@dataclass(frozen=True)
class RequestWindow:
    """A miner's requests in one minute, already summed."""

    miner_id: str
    window_start: datetime  # timezone-aware; floored to its minute when written
    count: int
    errors: int
    latency_ms_sum: float
    tokens: int
    buckets: tuple[int, ...]  # per bucket of LATENCY_BUCKETS_MS, then one above the top


class RequestTally:
    """Requests being summed into one window: plain slots, cheap to add to."""

    __slots__ = ("buckets", "count", "errors", "latency_ms_sum", "tokens")

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.latency_ms_sum = 0.0
        self.tokens = 0
        self.buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)

    def add(self, latency_ms: float, ok: bool, tokens: int = 0) -> None:
        """Count one request."""
        self.count += 1
        if not ok:
            self.errors += 1
        self.latency_ms_sum += latency_ms
        self.tokens += tokens
        self.buckets[bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)] += 1

    def merge(self, other: RequestTally | RequestWindow) -> None:
        """Add another tally's (or a written-out window's) figures to this one."""
        self.count += other.count
        self.errors += other.errors
        self.latency_ms_sum += other.latency_ms_sum
        self.tokens += other.tokens
        buckets = self.buckets
        for index, n in enumerate(other.buckets):
            buckets[index] += n

    def window(self, miner_id: str, window_start: datetime) -> RequestWindow:
        return RequestWindow(
            miner_id=miner_id,
            window_start=window_start,
            count=self.count,
            errors=self.errors,
            latency_ms_sum=self.latency_ms_sum,
            tokens=self.tokens,
            buckets=tuple(self.buckets),
        )


@dataclass(frozen=True)
class RequestStats:
    """A miner's request figures over a period."""

    count: int
    errors: int
    avg_latency_ms: float | None
    p95_latency_ms: float | None


@dataclass(frozen=True)
class HealthStats:
    probes: int
    successes: int

    @property
    def availability(self) -> float | None:
        return self.successes / self.probes if self.probes else None


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def bucket_index(latency_ms: float) -> int:
    """The histogram bucket a latency falls in."""
    return bisect.bisect_left(LATENCY_BUCKETS_MS, latency_ms)


async def record_probe(
    session: AsyncSession,
    miner_id: str,
    *,
    ok: bool,
    latency_ms: float | None = None,
    error: str | None = None,
    at: datetime | None = None,
) -> None:
    """Count one health probe of a miner in its hour, and note it on the miner."""
    at = at or utcnow()
    window = _hour(at)
    row = await session.scalar(
        select(MinerHealth).where(
            MinerHealth.miner_id == miner_id, MinerHealth.window_start == window
        )
    )
    if row is None:
        row = MinerHealth(
            miner_id=miner_id, window_start=window, probes=0, successes=0, latency_ms_sum=0.0
        )
        session.add(row)
    row.probes += 1
    if ok:
        row.successes += 1
        row.latency_ms_sum += latency_ms or 0.0
    else:
        row.last_error = error
    miner = await session.get(Miner, miner_id)
    if miner is not None:
        miner.last_probe_at = at
        miner.last_probe_ok = ok
    await session.flush()


async def record_requests(session: AsyncSession, samples: Iterable[RequestSample]) -> None:
    """Add a batch of request samples to their miners' minute windows."""
    tallies: dict[tuple[str, datetime], RequestTally] = {}
    now = utcnow()
    for sample in samples:
        key = (sample.miner_id, _minute(sample.at or now))
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = RequestTally()
        tally.add(sample.latency_ms, sample.ok, sample.tokens)
    await record_request_windows(
        session, [tally.window(miner_id, at) for (miner_id, at), tally in tallies.items()]
    )


async def record_request_windows(session: AsyncSession, windows: Iterable[RequestWindow]) -> None:
    """Add pre-summed windows to their rows of ``miner_requests`` (created when missing).

    Windows of the same miner and minute are summed first; the rows already there are
    read in one query. Empty windows (count 0) write nothing.
    """
    # sum in plain Python first: ORM attribute access costs per operation
    tallies: dict[tuple[str, datetime], RequestTally] = {}
    for window in windows:
        if not window.count:
            continue
        key = (window.miner_id, _minute(window.window_start).astimezone(UTC))
        tally = tallies.get(key)
        if tally is None:
            tally = tallies[key] = RequestTally()
        tally.merge(window)
    if not tallies:
        return
    # a superset of the rows wanted (every miner x every minute), picked out below
    found = await session.scalars(
        select(MinerRequests).where(
            MinerRequests.miner_id.in_({miner_id for miner_id, _ in tallies}),
            MinerRequests.window_start.in_({at for _, at in tallies}),
        )
    )
    rows = {(row.miner_id, row.window_start): row for row in found}
    for (miner_id, at), tally in tallies.items():
        row = rows.get((miner_id, at))
        if row is None:
            row = MinerRequests(
                miner_id=miner_id, window_start=at, count=0, errors=0, latency_ms_sum=0.0
            )
            session.add(row)
        row.count += tally.count
        row.errors += tally.errors
        row.latency_ms_sum += tally.latency_ms_sum
        row.tokens = (row.tokens or 0) + tally.tokens
        merged = list(row.buckets or [0] * len(tally.buckets))  # a new list marks the JSON dirty
        for index, n in enumerate(tally.buckets):
            if n:
                merged[index] += n
        row.buckets = merged
    await session.flush()


def percentile_from_buckets(buckets: Sequence[int], q: float) -> float | None:
    """The upper bound of the bucket holding the q-quantile (the top bucket: its floor)."""
    total = sum(buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]
    return LATENCY_BUCKETS_MS[-1]


async def request_stats(
    session: AsyncSession, miner_id: str, *, since: datetime | None = None
) -> RequestStats:
    """Count, errors, average and p95 latency of a miner's requests (all time by default)."""
    query = select(MinerRequests).where(MinerRequests.miner_id == miner_id)
    if since is not None:
        query = query.where(MinerRequests.window_start >= _minute(since))
    rows = (await session.scalars(query)).all()
    count = sum(r.count for r in rows)
    buckets = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for row in rows:
        for index, n in enumerate(row.buckets or []):
            buckets[index] += n
    return RequestStats(
        count=count,
        errors=sum(r.errors for r in rows),
        avg_latency_ms=sum(r.latency_ms_sum for r in rows) / count if count else None,
        p95_latency_ms=percentile_from_buckets(buckets, 0.95),
    )


async def health_stats(
    session: AsyncSession, miner_id: str, *, since: datetime | None = None
) -> HealthStats:
    """Probes and successes of a miner (the last 24 h by default)."""
    since = since or utcnow() - timedelta(hours=24)
    probes, successes = (
        await session.execute(
            select(
                func.coalesce(func.sum(MinerHealth.probes), 0),
                func.coalesce(func.sum(MinerHealth.successes), 0),
            ).where(MinerHealth.miner_id == miner_id, MinerHealth.window_start >= _hour(since))
        )
    ).one()
    return HealthStats(probes=int(probes), successes=int(successes))
