"""The ``gateway_keys`` table: consumer API keys for ``/api/chat`` and ``/v1/*``.

Apart from ``api_keys`` (account credentials that manage VMs and miners) on purpose: a
gateway key can only ask the network questions, carries its own rate limit, and a
leaked one cannot deploy or delete anything. Only the key's sha256 is kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from tensornode.db.models import Base, UTCDateTime, utcnow


class GatewayKey(Base):
    """A consumer key of an account (created by migration ``0004_gateway``)."""

    __tablename__ = "gateway_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    rate_limit_per_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
