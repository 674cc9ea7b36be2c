"""Consumer API keys (``tng_...``): create, list, revoke, and authenticate with a cache.

A key is shown once, when created; only its sha256 is stored (``gateway_keys``).
Authentication reads the database only on a cache miss: a lookup (found, revoked or
unknown) is trusted for ``key_cache_s``; a revocation through this process drops its
entry at once (another replica notices within ``key_cache_s``).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from tensornode.config import GatewaySettings
from tensornode.coordinator.accounts import get_or_create_account
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from tensornode.gateway.models import GatewayKey

KEY_PREFIX = "tng_"
"""Gateway keys start so; account API keys start ``tn_`` and are refused here."""
CACHE_LIMIT = 100_000


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyIdentity:
    """Who a valid gateway key belongs to, and its own rate limit if it has one."""

    key_id: int
    account_id: str
    rate_limit_per_min: float | None


class GatewayKeys:
    """The gateway_keys table, with a lookup cache in front of authentication."""

    def __init__(
        self,
        db: Database,
        settings: GatewaySettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self._cache: dict[str, tuple[KeyIdentity | None, float]] = {}

    async def create(
        self, account_id: str, *, name: str | None = None, rate_limit_per_min: float | None = None
    ) -> tuple[GatewayKey, str]:
        """A new key of the account; the secret is returned only here.

        A key's own rate limit may only lower the gateway's (422 above it); an account
        holds at most ``max_keys_per_account`` unrevoked keys (409).
        """
        ceiling = self.settings.rate_limit_per_min
        if rate_limit_per_min is not None and rate_limit_per_min > ceiling:
            raise InvalidInput(
                f"rateLimitPerMin: at most {ceiling:g} requests per minute (the gateway's limit)",
                status=422,
            )
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.db.session() as session:
            await get_or_create_account(session, account_id)
            held = await session.scalar(
                select(func.count())
                .select_from(GatewayKey)
                .where(GatewayKey.account_id == account_id, GatewayKey.revoked_at.is_(None))
            )
            limit = self.settings.max_keys_per_account
            if (held or 0) >= limit:
                raise Conflict(f"an account holds at most {limit} gateway keys: revoke one first")
            row = GatewayKey(
                account_id=account_id,
                name=name or "gateway key",
                key_hash=hash_key(secret),
                prefix=secret[:12],
                rate_limit_per_min=rate_limit_per_min,
                created_at=utcnow(),
            )
            session.add(row)
            await session.flush()
        return row, secret

    async def list(self, account_id: str) -> list[GatewayKey]:
        """The account's keys, revoked ones included, newest first."""
        async with self.db.session() as session:
            rows = await session.scalars(
                select(GatewayKey)
                .where(GatewayKey.account_id == account_id)
                .order_by(GatewayKey.id.desc())
            )
            return list(rows)

    async def revoke(self, account_id: str, key_id: int) -> GatewayKey:
        """Revoke one of the account's keys (another account's is 404, like an absent one)."""
        async with self.db.session() as session:
            row = await session.get(GatewayKey, key_id)
            if row is None or row.account_id != account_id:
                raise NotFound(f"gateway key {key_id} not found")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            self._cache.pop(row.key_hash, None)
            return row

    async def authenticate(self, secret: str) -> KeyIdentity:
        """The identity of a valid key; Unauthenticated for an unknown or revoked one."""
        digest = hash_key(secret)
        now = self.clock()
        cached = self._cache.get(digest)
        if cached is None or cached[1] <= now:
            identity = await self._lookup(digest)
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[digest] = (identity, now + self.settings.key_cache_s)
        else:
            identity = cached[0]
        if identity is None:
            if not secret.startswith(KEY_PREFIX):
                raise Unauthenticated(
                    "not a gateway key: create one with POST /gateway/keys (tng_...)"
                )
            raise Unauthenticated("invalid or revoked gateway key")
        return identity

    async def _lookup(self, digest: str) -> KeyIdentity | None:
        async with self.db.session() as session:
            row = await session.scalar(select(GatewayKey).where(GatewayKey.key_hash == digest))
        if row is None or row.revoked_at is not None:
            return None
        return KeyIdentity(row.id, row.account_id, row.rate_limit_per_min)
