"""Sessions: a random bearer token (``tns_…``) and CSRF token, kept only as sha256.

The same token is the browser's HttpOnly cookie and the CLI's bearer; the CSRF token
is the browser's readable ``tn_csrf`` cookie, echoed in ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.auth.models import AuthSession
from tensornode.errors import Unauthenticated

SESSION_PREFIX = "tns_"
SESSION_COOKIE = "tn_session"
CSRF_COOKIE = "tn_csrf"
CSRF_HEADER = "X-CSRF-Token"
_KEEP_ENDED = timedelta(days=1)


@dataclass(frozen=True)
class NewSession:
    """A session as created: the only time its token and CSRF token exist in clear."""

    token: str
    csrf_token: str
    account_id: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_PREFIX)


def csrf_matches(row: AuthSession, csrf_token: str) -> bool:
    """Whether ``csrf_token`` is this session's (constant-time)."""
    return hmac.compare_digest(row.csrf_hash, token_hash(csrf_token))


async def create_session(
    session: AsyncSession, account_id: str, *, now: datetime, ttl: timedelta
) -> NewSession:
    """Store a new session for ``account_id`` (which must exist) and return its tokens.

    Sessions that ended over a day ago are deleted on the way (they can only say "expired").
    """
    await session.execute(delete(AuthSession).where(AuthSession.expires_at < now - _KEEP_ENDED))
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(24)
    row = AuthSession(
        account_id=account_id,
        token_hash=token_hash(token),
        csrf_hash=token_hash(csrf_token),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    return NewSession(token, csrf_token, account_id, row.expires_at)


async def active_session(session: AsyncSession, token: str, *, now: datetime) -> AuthSession:
    """The live session of ``token``; Unauthenticated if unknown, revoked or expired."""
    row = await session.scalar(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    )
    if row is None:
        raise Unauthenticated("invalid session: sign in again")
    if row.revoked_at is not None:
        raise Unauthenticated("session revoked: sign in again")
    if now >= row.expires_at:
        raise Unauthenticated("session expired: sign in again")
    return row


async def revoke_session(session: AsyncSession, row_id: int, *, now: datetime) -> None:
    """Revoke a session now (logout)."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == row_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
