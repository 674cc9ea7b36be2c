"""Ledger wrappers for settlement tests: a payee that refuses money, a ledger that cannot mint."""

from __future__ import annotations

from collections.abc import Sequence

from tensornode.errors import UpstreamError
from tensornode.ledger.base import (
    BatchResult,
    HistoryEntry,
    Receipt,
    TransferOrder,
    transfer_each,
)
from tensornode.ledger.local import LocalLedger


class PayeeRefusingLedger:
    """The local ledger, but transfers to the accounts in ``refusing`` fail (as a Hedera
    account that is deleted or requires a signature would)."""

    def __init__(self, inner: LocalLedger, refusing: set[str]) -> None:
        self.inner = inner
        self.refusing = refusing
        self.max_batch = inner.max_batch

    def balance(self, account: str) -> int:
        return self.inner.balance(account)

    def history(self, account: str, *, limit: int = 100) -> list[HistoryEntry]:
        return self.inner.history(account, limit=limit)

    def mint(
        self, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        return self.inner.mint(destination, amount, idempotency_key=idempotency_key, memo=memo)

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        if destination in self.refusing:
            raise UpstreamError(f"{destination} refused the transfer")
        return self.inner.transfer(
            source, destination, amount, idempotency_key=idempotency_key, memo=memo
        )

    def transfer_batch(
        self, source: str, orders: Sequence[TransferOrder], *, batch_key: str, memo: str
    ) -> BatchResult:
        return transfer_each(self, source, orders, memo)


class NonMintingLedger:
    """Only the :class:`~tensornode.ledger.base.Ledger` verbs: payouts come from a funded pool."""

    def __init__(self, inner: LocalLedger) -> None:
        self.inner = inner
        self.max_batch = inner.max_batch

    def balance(self, account: str) -> int:
        return self.inner.balance(account)

    def history(self, account: str, *, limit: int = 100) -> list[HistoryEntry]:
        return self.inner.history(account, limit=limit)

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        return self.inner.transfer(
            source, destination, amount, idempotency_key=idempotency_key, memo=memo
        )

    def transfer_batch(
        self, source: str, orders: Sequence[TransferOrder], *, batch_key: str, memo: str
    ) -> BatchResult:
        return transfer_each(self, source, orders, memo)
