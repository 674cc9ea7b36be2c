"""Accounts and API keys: Hedera account ids, keys kept only as their sha256."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.contracts.coordinator import WALLET_PATTERN
from tensornode.db.models import Account, ApiKey, utcnow
from tensornode.errors import InvalidInput, Unauthenticated

KEY_PREFIX = "tn_"
_WALLET = re.compile(WALLET_PATTERN)


def validate_wallet(value: str) -> str:
    """A Hedera account id ``0.0.N``, or InvalidInput naming what was wrong."""
    value = value.strip()
    if not _WALLET.fullmatch(value):
        raise InvalidInput(
            f"invalid walletAddress {value[:60]!r}: expected a Hedera account id like 0.0.123456"
        )
    return value


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def get_or_create_account(session: AsyncSession, account_id: str) -> Account:
    """The account with this id, created on first sight."""
    account_id = validate_wallet(account_id)
    account = await session.get(Account, account_id)
    if account is None:
        account = Account(id=account_id, created_at=utcnow())
        session.add(account)
        await session.flush()
    return account


async def create_api_key(session: AsyncSession, account_id: str) -> str:
    """Create an API key for the account (created if new); the key is returned only here."""
    account = await get_or_create_account(session, account_id)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiKey(account_id=account.id, key_hash=hash_key(key), prefix=key[:10]))
    await session.flush()
    return key


async def account_for_api_key(session: AsyncSession, key: str) -> Account:
    """The account a bearer key belongs to; Unauthenticated if unknown or revoked."""
    row = await session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid API key")
    row.last_used_at = utcnow()
    account = await session.get(Account, row.account_id)
    if account is None:
        raise Unauthenticated("invalid API key")
    return account
