"""Per-miner scores over a time window, read from the stored evidence (synchronous).

The same functions serve the API (through ``AsyncSession.run_sync``) and the epoch
scheduler's ``collect`` (in a worker thread), so a leaderboard and a settled epoch are
computed alike. Quality, speed and participation come from the evidence of rounds that
finished inside the window (:func:`~tensornode.scoring.components.score_epoch`);
availability from the monitor's health probes (``miner_health``). Health probes are
kept per hour, so for epochs shorter than an hour availability covers the hours the
epoch touches: the share of the probes counted in those hours. A miner registered
after a window ended is not scored in it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tensornode.db.metrics import HealthStats
from tensornode.db.models import Miner, MinerHealth
from tensornode.scoring.components import score_epoch
from tensornode.scoring.network.models import ValidationResult, ValidationRound
from tensornode.scoring.schemas import ComponentWeights, Evidence, MinerScore, RoundResult

ALWAYS_LISTED = ("active", "unhealthy")
"""Miner statuses a leaderboard lists even before any evidence or probe."""


@dataclass(frozen=True)
class WindowScores:
    """A subnet's miners scored over a window, with the health figures behind availability."""

    scores: dict[str, MinerScore]
    health: dict[str, HealthStats] = field(default_factory=dict)


def _hour(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def to_evidence(row: ValidationResult) -> Evidence:
    """A stored result as the engine's :class:`Evidence`."""
    return Evidence(
        round_id=row.round_id,
        challenge_id=row.challenge_id,
        challenge_hash=row.challenge_hash,
        family=row.family,
        miner_id=row.miner_id,
        status=row.status,  # type: ignore[arg-type]  # stored from a ProbeStatus
        answer=row.answer,
        latency_s=row.latency_s,
        score=row.score,
        verdict=row.verdict,  # type: ignore[arg-type]  # stored from a Verdict
        reason=row.reason,
        speed=row.speed,
    )


def window_evidence(
    session: Session, subnet: str, start: datetime, end: datetime, miner_id: str | None = None
) -> dict[str, list[Evidence]]:
    """miner id -> its evidence in rounds of ``subnet`` that finished in ``[start, end)``."""
    query = (
        select(ValidationResult)
        .join(ValidationRound, ValidationRound.id == ValidationResult.round_id)
        .where(
            ValidationRound.subnet == subnet,
            ValidationResult.at >= start,
            ValidationResult.at < end,
        )
        .order_by(ValidationResult.at, ValidationResult.id)
    )
    if miner_id is not None:
        query = query.where(ValidationResult.miner_id == miner_id)
    out: dict[str, list[Evidence]] = defaultdict(list)
    for row in session.scalars(query):
        out[row.miner_id].append(to_evidence(row))
    return dict(out)


def window_health(
    session: Session, miner_ids: Iterable[str] | None, start: datetime, end: datetime
) -> dict[str, HealthStats]:
    """miner id -> health probes and successes in the hours ``[start, end)`` touches."""
    query = (
        select(
            MinerHealth.miner_id,
            func.coalesce(func.sum(MinerHealth.probes), 0),
            func.coalesce(func.sum(MinerHealth.successes), 0),
        )
        .where(MinerHealth.window_start >= _hour(start), MinerHealth.window_start < end)
        .group_by(MinerHealth.miner_id)
    )
    if miner_ids is not None:
        query = query.where(MinerHealth.miner_id.in_(list(miner_ids)))
    return {
        miner: HealthStats(probes=int(probes), successes=int(successes))
        for miner, probes, successes in session.execute(query).all()
    }


def window_scores(
    session: Session,
    subnet: str,
    start: datetime,
    end: datetime,
    weights: ComponentWeights,
    *,
    list_active: bool = True,
) -> WindowScores:
    """Every miner of ``subnet`` with evidence or health probes in the window, scored.

    ``list_active`` adds the subnet's active and unhealthy miners with nothing recorded
    yet (scored zero: a leaderboard shows them; an epoch's payouts leave them out).
    """
    evidence = window_evidence(session, subnet, start, end)
    # a miner registered after the window ended is not scored in it (hourly health rows
    # would otherwise credit it with probes made after the window)
    members = select(Miner.id).where(Miner.subnet == subnet, Miner.created_at < end)
    subnet_ids = set(session.scalars(members))
    health = {
        miner: stats
        for miner, stats in window_health(session, None, start, end).items()
        if miner in subnet_ids
    }
    if list_active:
        active = members.where(Miner.status.in_(ALWAYS_LISTED))
        for miner in session.scalars(active):
            health.setdefault(miner, HealthStats(0, 0))
    availability = {m: health.get(m, HealthStats(0, 0)).availability or 0.0 for m in health}
    rounds = _rounds(session, subnet, evidence)
    scores = score_epoch(rounds, availability, weights)
    return WindowScores(scores=scores, health=health)


def _rounds(
    session: Session, subnet: str, evidence: dict[str, list[Evidence]]
) -> list[RoundResult]:
    """The window's evidence regrouped into its rounds, in the order they finished."""
    by_round: dict[str, list[Evidence]] = defaultdict(list)
    for items in evidence.values():
        for item in items:
            by_round[item.round_id].append(item)
    if not by_round:
        return []
    rows = session.scalars(
        select(ValidationRound)
        .where(ValidationRound.id.in_(list(by_round)))
        .order_by(ValidationRound.finished_at, ValidationRound.id)
    )
    return [
        RoundResult(
            round_id=row.id,
            subnet=subnet,
            started_at=row.started_at.isoformat(),
            finished_at=row.finished_at.isoformat(),
            challenges=(),  # kept secret: the evidence carries each challenge's hash
            evidence=tuple(by_round[row.id]),
        )
        for row in rows
    ]
