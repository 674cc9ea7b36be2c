"""Tables of wallet sign-in (migration ``0003_auth``).

    account_keys      the public key of an account on the local ledger (dev and local mode)
    auth_challenges   one-time sign-in messages; ``used_at`` set once, atomically
    auth_sessions     sessions as sha256 of their bearer token and CSRF token, with expiry

A challenge names an account that may not exist locally yet (a Hedera account signs in
for the first time), so it has no foreign key; a session's account is created at sign-in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tensornode.db.models import Base, UTCDateTime, utcnow


class AccountKey(Base):
    """The single public key that signs for an account on the local ledger."""

    __tablename__ = "account_keys"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    key_type: Mapped[str] = mapped_column(String(20))  # ed25519 | ecdsa_secp256k1
    public_key: Mapped[str] = mapped_column(String(66))  # raw hex (compressed for ECDSA)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuthChallenge(Base):
    """A sign-in message issued to an account; valid once, until ``expires_at``."""

    __tablename__ = "auth_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    message: Mapped[str] = mapped_column(Text)
    message_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AuthSession(Base):
    """A signed-in session: only hashes of its token and CSRF token are kept."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
