"""Where an account's public key comes from: one protocol, two sources.

- :class:`LedgerKeySource`: the ``account_keys`` table of the local ledger (dev and local
  networks), filled by ``POST /auth/register`` in dev mode or by an operator.
- :class:`~tensornode.auth.mirror.MirrorKeySource`: a Hedera mirror node (the network's
  own record of the account's key), in ``auth/mirror.py``.

A source answers a single ED25519 or secp256k1 key, or raises Unauthenticated saying why
the account cannot sign in (no key, unknown account, a threshold key).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.auth.models import AccountKey
from tensornode.auth.signatures import KeyType, PublicKey
from tensornode.coordinator.accounts import get_or_create_account
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.errors import Conflict, Unauthenticated


class KeySource(Protocol):
    """Answers the public key that signs for a Hedera account."""

    async def public_key(self, account_id: str) -> PublicKey:
        """The account's key; Unauthenticated when it has none we can verify."""
        ...


class LedgerKeySource:
    """Keys registered on the local ledger (``account_keys``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def public_key(self, account_id: str) -> PublicKey:
        async with self.db.session() as session:
            row = await session.get(AccountKey, account_id)
        if row is None:
            raise Unauthenticated(
                f"no public key is registered for account {account_id} on this network"
                " (create a dev wallet: tensornode wallet create)"
            )
        key_type: KeyType = "ed25519" if row.key_type == "ed25519" else "ecdsa_secp256k1"
        return PublicKey(key_type, bytes.fromhex(row.public_key))


async def register_key(session: AsyncSession, account_id: str, key: PublicKey) -> bool:
    """Record ``key`` for the account (created if new); True when newly registered.

    The same key again is a no-op; a different key for an account that has one is a
    Conflict (replacing a key would hand the account to whoever asked).
    """
    await get_or_create_account(session, account_id)
    row = await session.get(AccountKey, account_id)
    if row is not None:
        if row.key_type == key.type and row.public_key == key.hex:
            return False
        raise Conflict(f"account {account_id} already has a different public key")
    session.add(
        AccountKey(
            account_id=account_id, key_type=key.type, public_key=key.hex, created_at=utcnow()
        )
    )
    await session.flush()
    return True
