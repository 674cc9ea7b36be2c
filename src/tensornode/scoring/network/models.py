"""Tables of validation (migration ``0005_validation``).

validators          accounts allowed to submit rounds (added by an operator)
validation_rounds ── validation_results
                    one row per round (who ran it, its revealed seed) and one per
                    (challenge, miner) probe: hash, truncated answer, latency,
                    verdict, reason, score and speed credit (the evidence)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tensornode.db.models import Base, UTCDateTime, utcnow


class ValidatorAccount(Base):
    """An account an operator allowed to validate (``tensornode coordinator validator add``)."""

    __tablename__ = "validators"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ValidationRound(Base):
    """One validation round: its id (a digest of its seed), subnet, validator and times."""

    __tablename__ = "validation_rounds"
    __table_args__ = (Index("ix_validation_rounds_finished", "finished_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subnet: Mapped[str] = mapped_column(String(40), index=True)
    validator_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # in-process | remote
    seed: Mapped[str] = mapped_column(String(50))  # revealed with the results
    challenges: Mapped[int] = mapped_column(Integer)
    miners: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ValidationResult(Base):
    """One probe's evidence: the unit of every score and every explanation."""

    __tablename__ = "validation_results"
    __table_args__ = (Index("ix_validation_results_miner_at", "miner_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    round_id: Mapped[str] = mapped_column(
        ForeignKey("validation_rounds.id", ondelete="CASCADE"), index=True
    )
    miner_id: Mapped[str] = mapped_column(ForeignKey("miners.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # the round's finish: its epoch
    challenge_id: Mapped[str] = mapped_column(String(64))
    challenge_hash: Mapped[str] = mapped_column(String(64))
    family: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    score: Mapped[float] = mapped_column(Float)
    speed: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
