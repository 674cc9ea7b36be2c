"""Public reads: a miner's scores with evidence and why, the leaderboard.

Scores of the running epoch are computed on request from the stored evidence (the same
code as settlement, :mod:`.scores`); settled epochs are read from their frozen reports.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tensornode.db.models import Miner, utcnow
from tensornode.epochs.clock import EpochWindow, epoch_at, epoch_window
from tensornode.epochs.models import Epoch, EpochReportRow
from tensornode.epochs.report import EpochReport
from tensornode.scoring.components import ranking
from tensornode.scoring.network.models import ValidationResult, ValidationRound
from tensornode.scoring.network.reasons import explain
from tensornode.scoring.network.schemas import (
    EpochScorePublic,
    EvidencePage,
    EvidencePublic,
    LeaderboardPublic,
    LeaderboardRow,
    MinerScoresPublic,
    SettledScorePublic,
)
from tensornode.scoring.network.scores import WindowScores, window_scores
from tensornode.scoring.schemas import ComponentWeights

if TYPE_CHECKING:
    from tensornode.scoring.network.runtime import ValidationRuntime


def _weights(weights: ComponentWeights) -> dict[str, float]:
    return {
        "quality": weights.quality,
        "speed": weights.speed,
        "availability": weights.availability,
        "participation": weights.participation,
    }


class ValidationReads:
    """Read models of the validation API (public network data)."""

    def __init__(self, runtime: ValidationRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.settings = runtime.settings

    def window(self, epoch: int | None = None, now: datetime | None = None) -> EpochWindow:
        """Epoch ``epoch``'s window (default: the running one)."""
        seconds = self.settings.rewards.epoch_seconds
        return (
            epoch_window(epoch, seconds)
            if epoch is not None
            else epoch_at(now or utcnow(), seconds)
        )

    async def _scores(self, subnet: str, window: EpochWindow) -> WindowScores:
        weights = self.runtime.service.subnet(subnet).weights
        async with self.db.session() as session:
            return await session.run_sync(
                lambda s: window_scores(s, subnet, window.starts_at, window.ends_at, weights)
            )

    async def leaderboard(self, subnet: str, epoch: int | None = None) -> LeaderboardPublic:
        """The subnet's miners ranked by total over epoch ``epoch`` (default: the running
        one, so far), computed from the stored evidence."""
        window = self.window(epoch)
        scored = await self._scores(subnet, window)
        order = ranking(scored.scores)
        async with self.db.session() as session:
            rows = await session.scalars(select(Miner).where(Miner.id.in_(order)))
            miners = {m.id: m for m in rows}
        data = []
        for rank, miner_id in enumerate(order, start=1):
            score, miner = scored.scores[miner_id], miners[miner_id]
            data.append(
                LeaderboardRow(
                    rank=rank, miner_id=miner_id, name=miner.name, owner=miner.owner_id,
                    status=miner.status, quality=score.quality, speed=score.speed,
                    availability=score.availability, participation=score.participation,
                    total=score.total, probes=score.probes, passed=score.passed,
                )
            )  # fmt: skip
        return LeaderboardPublic(
            subnet=subnet,
            epoch=window.number,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            weights=_weights(self.runtime.service.subnet(subnet).weights),
            data=data,
            count=len(data),
        )

    async def miner_scores(
        self, miner_id: str, *, epoch: int | None, limit: int, offset: int, history: int = 30
    ) -> MinerScoresPublic:
        """A miner's components and why for one epoch (default: running), its evidence
        page (newest first), and its frozen scores in settled epochs (newest first)."""
        miner = await self.runtime.miners.get(miner_id)
        window = self.window(epoch)
        scored = await self._scores(miner.subnet, window)
        score = scored.scores.get(miner_id)
        if score is None:
            from tensornode.scoring.components import score_miner

            score = score_miner(
                miner_id, [], 0.0, self.runtime.service.subnet(miner.subnet).weights
            )
        health = scored.health.get(miner_id)
        async with self.db.session() as session:
            final = await session.get(Epoch, window.number) is not None
            page = await session.run_sync(
                lambda s: _evidence_page(s, miner_id, window, limit, offset)
            )
            reports = list(
                await session.scalars(
                    select(EpochReportRow.body)
                    .order_by(EpochReportRow.number.desc())
                    .limit(history)
                )
            )
        current = EpochScorePublic(
            epoch=window.number, starts_at=window.starts_at, ends_at=window.ends_at,
            final=final, quality=score.quality, speed=score.speed,
            availability=score.availability, participation=score.participation,
            total=score.total, weights=_weights(score.weights), probes=score.probes,
            answered=score.answered, passed=score.passed,
            health_probes=health.probes if health else 0,
            health_successes=health.successes if health else 0,
            consistency=score.consistency, traffic=score.traffic,
            traffic_passed=score.traffic_passed, why=explain(score, health),
        )  # fmt: skip
        return MinerScoresPublic(
            miner_id=miner_id,
            name=miner.name,
            subnet=miner.subnet,
            current=current,
            history=_history(miner_id, reports),
            evidence=page,
        )


def _evidence_page(
    session: Session, miner_id: str, window: EpochWindow, limit: int, offset: int
) -> EvidencePage:
    where = (
        ValidationResult.miner_id == miner_id,
        ValidationResult.at >= window.starts_at,
        ValidationResult.at < window.ends_at,
    )
    count = session.scalar(select(func.count()).select_from(ValidationResult).where(*where))
    rows = session.scalars(
        select(ValidationResult)
        .join(ValidationRound, ValidationRound.id == ValidationResult.round_id)
        .where(*where)
        .order_by(ValidationResult.at.desc(), ValidationResult.id.desc())
        .limit(limit)
        .offset(offset)
    )
    data = [
        EvidencePublic(
            round_id=r.round_id, at=r.at, challenge_id=r.challenge_id,
            challenge_hash=r.challenge_hash, family=r.family, status=r.status,
            answer=r.answer, latency_s=r.latency_s, score=r.score, speed=r.speed,
            verdict=r.verdict, reason=r.reason,
        )
        for r in rows
    ]  # fmt: skip
    return EvidencePage(data=data, count=int(count or 0), limit=limit, offset=offset)


def _history(miner_id: str, bodies: list[str]) -> list[SettledScorePublic]:
    out = []
    for body in bodies:
        report = EpochReport.model_validate_json(body)
        mine = next((m for m in report.miners if m.miner_id == miner_id), None)
        if mine is None:
            continue
        reward = sum(
            p.amount for p in report.payouts if p.account == mine.account and p.kind == "miner"
        )
        out.append(
            SettledScorePublic(
                epoch=report.epoch, starts_at=report.starts_at, ends_at=report.ends_at,
                quality=mine.quality, speed=mine.speed, availability=mine.availability,
                participation=mine.participation, total=mine.total,
                evidence_count=mine.evidence_count, evidence_sha256=mine.evidence_sha256,
                reward=reward,
            )
        )  # fmt: skip
    return out
