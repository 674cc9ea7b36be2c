"""Public reads of epochs and rewards: frozen and settled epochs, a settled epoch's report
byte for byte, and what an account was paid."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from tensornode.db.models import utcnow
from tensornode.epochs.clock import epoch_at
from tensornode.epochs.models import Epoch, EpochReportRow
from tensornode.epochs.report import EpochReport
from tensornode.epochs.schemas import (
    CurrentEpoch,
    EpochsPublic,
    EpochSummary,
    RewardPublic,
    RewardsPublic,
)
from tensornode.errors import NotFound
from tensornode.ledger.base import check_account

if TYPE_CHECKING:
    from tensornode.scoring.network.runtime import ValidationRuntime


class EpochReads:
    """Read models of the epochs and rewards API (public network data)."""

    def __init__(self, runtime: ValidationRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.settings = runtime.settings

    async def epochs(self, *, limit: int, offset: int) -> EpochsPublic:
        """Frozen and settled epochs, latest first, and the running one."""
        window = epoch_at(utcnow(), self.settings.rewards.epoch_seconds)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Epoch))
            rows = (
                await session.execute(
                    select(Epoch, EpochReportRow.body)
                    .outerjoin(EpochReportRow, EpochReportRow.number == Epoch.number)
                    .order_by(Epoch.number.desc())
                    .limit(limit)
                    .offset(offset)
                )
            ).all()
        data = []
        for epoch, body in rows:
            report = EpochReport.model_validate_json(body or epoch.draft)
            data.append(
                EpochSummary(
                    number=epoch.number, status=epoch.status, starts_at=epoch.starts_at,
                    ends_at=epoch.ends_at, emission=report.emission, unit=report.config.unit,
                    miners=len(report.miners), payouts=len(report.payouts),
                    hash=report.hash or None,
                )
            )  # fmt: skip
        return EpochsPublic(
            current=CurrentEpoch(
                number=window.number, starts_at=window.starts_at, ends_at=window.ends_at
            ),
            data=data,
            count=int(count or 0),
        )

    async def report_body(self, number: int) -> str:
        """Epoch ``number``'s stored report, byte for byte (404 until settled)."""
        async with self.db.session() as session:
            row = await session.get(EpochReportRow, number)
        if row is None:
            raise NotFound(f"epoch {number} has no report (not settled yet, or never)")
        return row.body

    async def rewards(self, account: str, *, limit: int) -> RewardsPublic:
        """What ``account`` was paid per settled epoch (newest first), and its balance."""
        check_account(account)
        async with self.db.session() as session:
            bodies = list(
                await session.scalars(
                    select(EpochReportRow.body).order_by(EpochReportRow.number.desc()).limit(limit)
                )
            )
        data = [
            RewardPublic(
                epoch=report.epoch, kind=p.kind, amount=p.amount,
                transaction_id=p.transaction_id, ends_at=report.ends_at,
            )
            for report in (EpochReport.model_validate_json(b) for b in bodies)
            for p in report.payouts
            if p.account == account
        ]  # fmt: skip
        balance = await asyncio.to_thread(self.runtime.epochs.balance, account)
        return RewardsPublic(
            account=account,
            unit=self.settings.rewards.unit,
            total=sum(r.amount for r in data),
            balance=balance,
            data=data,
            count=len(data),
        )
