"""Time series the web pages chart, read from the request metrics the gateway records.

``miner_requests`` keeps one row per miner and minute (count and latency sum), so the
average response time of a minute is ``latency_ms_sum / count``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.db.models import Miner, MinerRequests, utcnow
from tensornode.web.charts import Series


@dataclass(frozen=True)
class TimedSeries:
    """A miner's series with real times; ``as_chart`` turns times into minutes ago."""

    name: str
    points: Sequence[tuple[datetime, float]]

    def as_chart(self, origin: datetime) -> Series:
        """The series with x in minutes after ``origin``."""
        return Series(
            self.name, [((at - origin).total_seconds() / 60.0, value) for at, value in self.points]
        )


async def response_time_series(
    session: AsyncSession, miner_ids: Sequence[str], *, minutes: int, now: datetime | None = None
) -> list[TimedSeries]:
    """Average response time (ms) per minute of each known miner over the last ``minutes``."""
    since = (now or utcnow()) - timedelta(minutes=minutes)
    miners = {
        m.id: m.name for m in await session.scalars(select(Miner).where(Miner.id.in_(miner_ids)))
    }
    rows = await session.scalars(
        select(MinerRequests)
        .where(MinerRequests.miner_id.in_(list(miners)), MinerRequests.window_start >= since)
        .order_by(MinerRequests.window_start)
    )
    points: dict[str, list[tuple[datetime, float]]] = {miner_id: [] for miner_id in miners}
    for row in rows:
        if row.count:
            points[row.miner_id].append((row.window_start, row.latency_ms_sum / row.count))
    return [
        TimedSeries(miners[miner_id], points[miner_id])
        for miner_id in miner_ids
        if miner_id in miners
    ]
