"""Tables of epoch settlement.

epochs          one row per epoch being or having been settled: its frozen inputs
                and payouts (``draft``, canonical JSON) and ``status``
epoch_reports   the published report of a settled epoch: canonical JSON ``body``,
                its ``hash`` and the ``previous_hash`` it chains to
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tensornode.db.models import Base, UTCDateTime, utcnow

EPOCH_PAYING = "paying"
EPOCH_SETTLED = "settled"


class Epoch(Base):
    """An epoch whose scores are frozen: ``paying`` until every payout went through."""

    __tablename__ = "epochs"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    draft: Mapped[str] = mapped_column(Text)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class EpochReportRow(Base):
    """A settled epoch's report, exactly as published (``body`` is what is hashed, plus it)."""

    __tablename__ = "epoch_reports"

    number: Mapped[int] = mapped_column(
        ForeignKey("epochs.number"), primary_key=True, autoincrement=False
    )
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
