"""The ledger interface: balances, idempotent transfers, history (and minting where allowed).

Implementations: ``local`` (SQL, double-entry; dev and tests) and, later, ``hedera``.
Every amount is an ``int`` in the smallest unit (tinybar); floats, bools, zero and
negative amounts are refused with :class:`~tensornode.errors.InvalidInput`.

A transfer carries an idempotency key: repeating a key returns the first receipt and
moves nothing; repeating it with different parameters raises :class:`IdempotencyConflict`.

    Conflict (409)
     ├── InsufficientFunds      the source account cannot cover the amount
     └── IdempotencyConflict    a key reused for a different transfer
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from tensornode.errors import Conflict, InvalidInput

MAX_AMOUNT = 2**63 - 1
"""Largest amount a single transfer may move (a signed 64-bit column holds balances)."""

ACCOUNT_RE = re.compile(r"^\d{1,19}\.\d{1,19}\.\d{1,19}$")
MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 100  # Hedera's transaction memo limit

EntryKind = Literal["transfer", "mint"]


class InsufficientFunds(Conflict):
    """The source account's balance is smaller than the amount."""


class IdempotencyConflict(Conflict):
    """An idempotency key was reused with different parameters."""


@dataclass(frozen=True)
class Receipt:
    """What a transfer or mint did; the same object is returned for a repeated key."""

    transaction_id: str
    idempotency_key: str
    kind: EntryKind
    source: str | None  # None for a mint
    destination: str
    amount: int
    memo: str
    created_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One movement on one account: ``amount`` is positive when received."""

    transaction_id: str
    idempotency_key: str
    kind: EntryKind
    counterparty: str | None  # None for a mint
    amount: int
    memo: str
    created_at: datetime


class Ledger(Protocol):
    """Where rewards are held and paid."""

    def balance(self, account: str) -> int:
        """The account's balance (0 for an account never seen)."""
        ...

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """Move ``amount`` from ``source`` to ``destination`` exactly once per key."""
        ...

    def history(self, account: str, *, limit: int = 100) -> list[HistoryEntry]:
        """The account's movements, newest first."""
        ...


@runtime_checkable
class MintingLedger(Ledger, Protocol):
    """A ledger that can create money (the local ledger; an HTS token's supply key)."""

    def mint(
        self, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """Create ``amount`` in ``destination`` exactly once per key."""
        ...


def check_amount(amount: object) -> int:
    """``amount`` if it is a positive int that fits the ledger, else :class:`InvalidInput`."""
    if type(amount) is not int:
        raise InvalidInput(
            f"amount must be an integer number of the smallest unit, got {amount!r} "
            f"({type(amount).__name__})"
        )
    if amount <= 0:
        raise InvalidInput(f"amount must be positive, got {amount}")
    if amount > MAX_AMOUNT:
        raise InvalidInput(f"amount {amount} exceeds the largest transfer ({MAX_AMOUNT})")
    return amount


def check_account(account: object) -> str:
    """``account`` if it is a Hedera account id (``0.0.123``), else :class:`InvalidInput`."""
    if not isinstance(account, str) or not ACCOUNT_RE.match(account):
        raise InvalidInput(f"account must be a Hedera account id like 0.0.123, got {account!r}")
    return account


def check_key(key: object) -> str:
    """``key`` if it is a usable idempotency key, else :class:`InvalidInput`."""
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"idempotency_key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"
        )
    return key


def check_memo(memo: object) -> str:
    """``memo`` if it is a string of at most 100 characters, else :class:`InvalidInput`."""
    if not isinstance(memo, str) or len(memo) > MAX_MEMO_LENGTH:
        raise InvalidInput(f"memo must be a string of at most {MAX_MEMO_LENGTH} characters")
    return memo
