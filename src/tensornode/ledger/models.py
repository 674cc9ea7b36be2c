"""Tables of the local ledger: a double-entry journal with maintained balances.

    ledger_accounts   one row per account; ``balance`` kept in step with its lines
    ledger_entries    one row per transfer or mint; ``idempotency_key`` is unique
    ledger_lines      two or more signed amounts per entry, summing to zero

The system account ``@issuance`` is where minted money comes from: its balance is the
negative of everything ever minted, so the sum of all balances is always zero.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tensornode.db.models import Base, UTCDateTime, utcnow

ISSUANCE_ACCOUNT = "@issuance"

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER
RowId = BigInteger().with_variant(Integer, "sqlite")


class LedgerAccount(Base):
    """An account's maintained balance; user accounts never go below zero."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (CheckConstraint("is_system OR balance >= 0", name="balance_not_negative"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerEntry(Base):
    """A journal entry: one transfer or mint, recorded once per idempotency key."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # transfer | mint
    memo: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list[LedgerLine]] = relationship(
        back_populates="entry", order_by="LedgerLine.amount", lazy="selectin"
    )


class LedgerLine(Base):
    """A signed amount on one account within an entry (negative: paid out)."""

    __tablename__ = "ledger_lines"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(RowId, ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)

    entry: Mapped[LedgerEntry] = relationship(back_populates="lines")
