"""Tables of the Hedera ledger: what is owed, and every transaction before it is sent.

hedera_payments      one row per order (its idempotency key): who, how much, and the
                     transaction that paid it once one did
hedera_transactions  one row per transaction, written (id and signed bytes) before it is
                     submitted: ``pending`` until its receipt or the mirror node says
                     ``success`` or ``failed``, or it expired unseen (``expired``)
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tensornode.db.models import Base, UTCDateTime, utcnow

TX_PENDING = "pending"
TX_SUCCESS = "success"
TX_FAILED = "failed"
TX_EXPIRED = "expired"


class HederaPayment(Base):
    """An order to pay ``amount`` to ``destination`` once, whatever happens."""

    __tablename__ = "hedera_payments"

    idempotency_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    destination: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(40))
    transaction_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HederaTransaction(Base):
    """A signed transaction carrying ``payment_keys`` (JSON list), stored before submission."""

    __tablename__ = "hedera_transactions"

    transaction_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    batch_key: Mapped[str] = mapped_column(String(200), index=True)
    payment_keys: Mapped[str] = mapped_column(Text)
    memo: Mapped[str] = mapped_column(String(100))
    signed_bytes: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), index=True)
    result: Mapped[str | None] = mapped_column(String(60), nullable=True)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
