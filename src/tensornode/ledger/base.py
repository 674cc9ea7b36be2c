"""The ledger interface: balances, idempotent transfers, history (and minting where allowed).

Implementations: ``local`` (SQL, double-entry; dev and tests) and ``hedera`` (HBAR or an
HTS token on Hedera, :mod:`tensornode.ledger.hedera`).
Every amount is an ``int`` in the smallest unit (tinybar); floats, bools, zero and
negative amounts are refused with :class:`~tensornode.errors.InvalidInput`.

A transfer carries an idempotency key: repeating a key returns the first receipt and
moves nothing; repeating it with different parameters raises :class:`IdempotencyConflict`.
An epoch pays through :meth:`Ledger.transfer_batch`: up to :attr:`Ledger.max_batch`
orders from one source, each under its own key (one Hedera transaction per batch).

    Conflict (409)
     ├── InsufficientFunds      the source account cannot cover the amount
     └── IdempotencyConflict    a key reused for a different transfer
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from tensornode.errors import Conflict, InvalidInput, TensorNodeError

MAX_AMOUNT = 2**63 - 1
"""Largest amount a single transfer may move (a signed 64-bit column holds balances)."""

ACCOUNT_RE = re.compile(r"^\d{1,19}\.\d{1,19}\.\d{1,19}$")
MAX_KEY_LENGTH = 200
MAX_MEMO_LENGTH = 100  # Hedera's transaction memo limit

EntryKind = Literal["transfer", "mint"]

DEFAULT_MAX_BATCH = 9
"""Orders per batch: a Hedera CryptoTransfer holds at most 10 account amounts, the
source's debit and 9 credits."""


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


@dataclass(frozen=True)
class TransferOrder:
    """One payment of a batch: ``amount`` to ``destination``, once per ``idempotency_key``."""

    destination: str
    amount: int
    idempotency_key: str


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: receipts of the orders paid, reasons for the ones that were not
    (both keyed by the order's idempotency key)."""

    paid: dict[str, Receipt] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class Ledger(Protocol):
    """Where rewards are held and paid."""

    @property
    def max_batch(self) -> int:
        """The most orders one :meth:`transfer_batch` call takes."""
        ...

    def balance(self, account: str) -> int:
        """The account's balance (0 for an account never seen)."""
        ...

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """Move ``amount`` from ``source`` to ``destination`` exactly once per key."""
        ...

    def transfer_batch(
        self, source: str, orders: Sequence[TransferOrder], *, batch_key: str, memo: str
    ) -> BatchResult:
        """Pay every order from ``source``, each exactly once per its key.

        ``batch_key`` names the batch (the same on every retry); an order that cannot be
        paid is reported in :attr:`BatchResult.failed`, never raised.
        """
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


@runtime_checkable
class ReceiverCheckingLedger(Ledger, Protocol):
    """A ledger on which some accounts cannot receive (an HTS token they are not
    associated with): settlement leaves them out before it freezes an epoch."""

    def cannot_receive(self, accounts: Sequence[str]) -> dict[str, str]:
        """The accounts among ``accounts`` that cannot be paid now, and why."""
        ...


def transfer_each(
    ledger: Ledger, source: str, orders: Sequence[TransferOrder], memo: str
) -> BatchResult:
    """A batch paid as one :meth:`Ledger.transfer` per order (ledgers without batches)."""
    result = BatchResult()
    for order in orders:
        try:
            result.paid[order.idempotency_key] = ledger.transfer(
                source,
                order.destination,
                order.amount,
                idempotency_key=order.idempotency_key,
                memo=memo,
            )
        except TensorNodeError as exc:
            result.failed[order.idempotency_key] = exc.message
    return result


def check_batch(orders: Sequence[TransferOrder], max_batch: int) -> None:
    """Refuse an empty or oversized batch, or one naming a key or payee twice."""
    if not orders or len(orders) > max_batch:
        raise InvalidInput(f"a batch holds 1 to {max_batch} orders, got {len(orders)}")
    for order in orders:
        check_account(order.destination)
        check_amount(order.amount)
        check_key(order.idempotency_key)
    if len({order.idempotency_key for order in orders}) != len(orders):
        raise InvalidInput("a batch names an idempotency key twice")
    if len({order.destination for order in orders}) != len(orders):
        raise InvalidInput("a batch pays an account twice: merge its orders")


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
