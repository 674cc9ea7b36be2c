"""One-time sign-in challenges: the message a wallet signs, issued and consumed in SQL.

The message names the network, its URL, the account, a random nonce and the issue and
expiry times, so a signature is useless anywhere else and after its time. Consuming is
one conditional ``UPDATE ... WHERE used_at IS NULL``: of two racing verifications of one
challenge, exactly one succeeds.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.auth.models import AuthChallenge
from tensornode.errors import Unauthenticated

# Expired challenges are kept this long, so a late replay is told "expired", not "unknown".
_KEEP_EXPIRED = timedelta(days=1)


@dataclass(frozen=True)
class IssuedChallenge:
    """What ``POST /auth/challenge`` answers."""

    id: str
    account_id: str
    message: str
    issued_at: datetime
    expires_at: datetime


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def challenge_message(
    *,
    network: str,
    url: str,
    account_id: str,
    nonce: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """The text a wallet is asked to sign (in the spirit of EIP-4361's sign-in message)."""
    return (
        f"{network} wants you to sign in with your Hedera account:\n"
        f"{account_id}\n"
        "\n"
        "Signing proves you hold this account's key. It moves no funds.\n"
        "\n"
        f"URI: {url}\n"
        f"Nonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\n"
        f"Expiration Time: {_iso(expires_at)}"
    )


def message_hash(message: str) -> str:
    return hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()


async def issue_challenge(
    session: AsyncSession,
    *,
    account_id: str,
    network: str,
    url: str,
    now: datetime,
    ttl: timedelta,
) -> IssuedChallenge:
    """Store and return a fresh challenge for ``account_id``; drops long-expired ones."""
    await session.execute(
        delete(AuthChallenge).where(AuthChallenge.expires_at < now - _KEEP_EXPIRED)
    )
    nonce = secrets.token_hex(16)
    expires_at = now + ttl
    message = challenge_message(
        network=network,
        url=url,
        account_id=account_id,
        nonce=nonce,
        issued_at=now,
        expires_at=expires_at,
    )
    row = AuthChallenge(
        id=secrets.token_hex(16),
        account_id=account_id,
        message=message,
        message_hash=message_hash(message),
        issued_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return IssuedChallenge(row.id, account_id, message, now, expires_at)


async def find_challenge(
    session: AsyncSession,
    *,
    account_id: str,
    challenge_id: str | None,
    message: str | None,
    now: datetime,
) -> AuthChallenge:
    """The open challenge named by id or by its exact text, or Unauthenticated saying why not."""
    if challenge_id is not None:
        row = await session.get(AuthChallenge, challenge_id)
    elif message is not None:
        query = select(AuthChallenge).where(AuthChallenge.message_hash == message_hash(message))
        row = await session.scalar(query)
    else:
        raise Unauthenticated("send the challenge_id or the message of your challenge")
    if row is None or (message is not None and row.message != message):
        raise Unauthenticated("unknown challenge: request a new one with POST /auth/challenge")
    if row.account_id != account_id:
        raise Unauthenticated(f"this challenge was issued to another account, not {account_id}")
    if row.used_at is not None:
        raise Unauthenticated("challenge already used: request a new one with POST /auth/challenge")
    if now >= row.expires_at:
        raise Unauthenticated(
            f"challenge expired at {_iso(row.expires_at)}:"
            " request a new one with POST /auth/challenge"
        )
    return row


async def consume_challenge(session: AsyncSession, challenge_id: str, now: datetime) -> None:
    """Mark the challenge used; Unauthenticated if someone else used it first."""
    result = await session.execute(
        update(AuthChallenge)
        .where(AuthChallenge.id == challenge_id, AuthChallenge.used_at.is_(None))
        .values(used_at=now)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Unauthenticated("challenge already used: request a new one with POST /auth/challenge")
