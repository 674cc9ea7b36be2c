"""The :class:`~tensornode.ledger.base.Ledger` on Hedera: HBAR or an HTS token.

A batch is one CryptoTransfer from the operator (the pool account). Exactly once, even
across a crash anywhere:

1. the orders are stored (``hedera_payments``, keyed by their idempotency keys); a key
   already paid is reported paid, with the transaction that paid it;
2. every stored transaction still ``pending`` for these orders is settled first: its
   receipt, else the mirror node, else, while it may still execute, the same signed bytes
   submitted again (Hedera runs a transaction id at most once); one that expired unseen
   by the mirror node can never run, and its orders are free to go in a new one;
3. a new transaction (orders left, token payees checked for association first) gets its
   id and signed bytes stored, committed, then submitted; BUSY and other retryable
   statuses are retried with backoff by the SDK; its receipt decides.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tensornode.config import HederaSettings
from tensornode.errors import ConfigurationError, LedgerError
from tensornode.ledger.base import (
    DEFAULT_MAX_BATCH,
    BatchResult,
    HistoryEntry,
    IdempotencyConflict,
    Receipt,
    TransferOrder,
    check_account,
    check_batch,
    check_key,
    check_memo,
)
from tensornode.ledger.database import database_errors, lock_for_write
from tensornode.ledger.hedera.mirror import MirrorNode
from tensornode.ledger.hedera.models import (
    TX_EXPIRED,
    TX_FAILED,
    TX_PENDING,
    TX_SUCCESS,
    HederaPayment,
    HederaTransaction,
)
from tensornode.ledger.hedera.network import (
    NEVER_EXECUTED,
    build_client,
    close_client,
    sdk_errors,
    status_name,
)
from tensornode.ledger.hedera.operator import Operator, load_operator
from tensornode.ledger.hedera.transactions import HBAR, build_transfer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


class HederaLedger:
    """Rewards paid on Hedera from the operator's account; balances read from the mirror."""

    max_batch = DEFAULT_MAX_BATCH

    def __init__(
        self,
        settings: HederaSettings,
        sessions: sessionmaker[Session],
        *,
        operator: Operator | None = None,
        mirror: MirrorNode | None = None,
        clock: Clock = _now,
    ) -> None:
        self.settings = settings
        self.operator = operator or load_operator(settings)
        self.client = build_client(settings, self.operator)
        self.mirror = mirror or MirrorNode(
            settings.mirror_base_url(), timeout=settings.mirror_timeout_s
        )
        self._sessions = sessions
        self._clock = clock
        self._token = None if settings.currency == HBAR else settings.currency

    def close(self) -> None:
        """Close the gRPC channels and the mirror node's connections."""
        close_client(self.client)
        self.mirror.close()

    # -- reads (the mirror node) ------------------------------------------------------

    def balance(self, account: str) -> int:
        """The account's balance in the reward currency, as the mirror node reports it."""
        return self.mirror.balance(check_account(account), self._token)

    def history(self, account: str, *, limit: int = 100) -> list[HistoryEntry]:
        """The account's successful movements in the reward currency, newest first."""
        entries = []
        for tx in self.mirror.transactions(check_account(account), limit=limit):
            amount = tx.credited(account, self._token)
            if tx.result != "SUCCESS" or amount == 0:
                continue
            others = [t.account for t in tx.transfers if t.token_id == self._token]
            counterparty = next((a for a in others if a != account), None)
            stamp = datetime.fromtimestamp(float(tx.consensus_timestamp), UTC)
            entries.append(
                HistoryEntry(
                    tx.transaction_id,
                    tx.transaction_id,
                    "transfer",
                    counterparty,
                    amount,
                    tx.memo,
                    stamp,
                )
            )
        return entries

    def cannot_receive(self, accounts: Sequence[str]) -> dict[str, str]:
        """For a token: the accounts not associated with it, and why (HBAR: none)."""
        if self._token is None:
            return {}
        return {
            account: f"{account} is not associated with token {self._token}"
            for account in accounts
            if not self.mirror.is_associated(check_account(account), self._token)
        }

    # -- writes -----------------------------------------------------------------------

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """One payment: a batch of one (raises :class:`LedgerError` when it fails)."""
        order = TransferOrder(destination, amount, idempotency_key)
        result = self.transfer_batch(source, [order], batch_key=idempotency_key, memo=memo)
        if idempotency_key in result.failed:
            raise LedgerError(result.failed[idempotency_key])
        return result.paid[idempotency_key]

    def transfer_batch(
        self, source: str, orders: Sequence[TransferOrder], *, batch_key: str, memo: str
    ) -> BatchResult:
        """Pay every order in one transaction, each exactly once (see the module docstring)."""
        check_account(source)
        check_key(batch_key)
        check_memo(memo)
        check_batch(orders, self.max_batch)
        if source != self.operator.account_id:
            raise ConfigurationError(
                f"the Hedera operator {self.operator.account_id} pays from its own account, "
                f"not from {source}: set the pool account to the operator"
            )
        self._register(source, orders)
        result = BatchResult()
        unsettled = self._reconcile_pending([o.idempotency_key for o in orders])
        result.paid.update(self._paid(source, orders))
        todo = []
        for order in orders:
            if order.idempotency_key in result.paid:
                continue
            if order.idempotency_key in unsettled:
                result.failed[order.idempotency_key] = unsettled[order.idempotency_key]
            else:
                todo.append(order)
        todo = self._receivable(todo, result)
        if todo:
            self._pay(source, todo, batch_key, memo, result)
        return result

    # -- steps ------------------------------------------------------------------------

    def _register(self, source: str, orders: Sequence[TransferOrder]) -> None:
        currency = self.settings.currency
        keys = [order.idempotency_key for order in orders]
        with database_errors("ledger"), self._sessions.begin() as session:
            lock_for_write(session)
            query = select(HederaPayment).where(HederaPayment.idempotency_key.in_(keys))
            stored = {row.idempotency_key: row for row in session.scalars(query)}
            for order in orders:
                row = stored.get(order.idempotency_key)
                if row is None:
                    session.add(
                        HederaPayment(
                            idempotency_key=order.idempotency_key,
                            source=source,
                            destination=order.destination,
                            amount=order.amount,
                            currency=currency,
                            created_at=self._clock(),
                        )
                    )
                elif (row.source, row.destination, row.amount, row.currency) != (
                    source,
                    order.destination,
                    order.amount,
                    currency,
                ):
                    raise IdempotencyConflict(
                        f"idempotency key {order.idempotency_key!r} was already used for "
                        f"{row.amount} {row.currency} from {row.source} to {row.destination}"
                    )

    def _paid(self, source: str, orders: Sequence[TransferOrder]) -> dict[str, Receipt]:
        """Receipts of the orders already paid, by key (one query)."""
        wanted = {order.idempotency_key: order for order in orders}
        query = (
            select(HederaPayment.idempotency_key, HederaTransaction)
            .join(
                HederaTransaction, HederaTransaction.transaction_id == HederaPayment.transaction_id
            )
            .where(HederaPayment.idempotency_key.in_(list(wanted)))
        )
        with database_errors("ledger"), self._sessions() as session:
            rows = session.execute(query).all()
        receipts = {}
        for key, tx in rows:
            order = wanted[key]
            receipts[key] = Receipt(
                tx.transaction_id,
                key,
                "transfer",
                source,
                order.destination,
                order.amount,
                tx.memo,
                tx.updated_at,
            )
        return receipts

    def _receivable(self, orders: list[TransferOrder], result: BatchResult) -> list[TransferOrder]:
        """The orders whose payee can receive the token (all of them for HBAR)."""
        if self._token is None:
            return orders
        able = []
        for order in orders:
            if self.mirror.is_associated(order.destination, self._token):
                able.append(order)
            else:
                result.failed[order.idempotency_key] = (
                    f"{order.destination} is not associated with token {self._token}: "
                    "it cannot receive the payout until it associates"
                )
        return able

    def _pay(
        self,
        source: str,
        orders: list[TransferOrder],
        batch_key: str,
        memo: str,
        result: BatchResult,
    ) -> None:
        with sdk_errors(f"building the transfer of batch {batch_key}"):
            signed = build_transfer(
                self.client, self.operator.key, self.settings, source, orders, memo
            )
        keys = [order.idempotency_key for order in orders]
        valid_until = self._clock() + timedelta(seconds=self.settings.valid_duration_s)
        with database_errors("ledger"), self._sessions.begin() as session:
            session.add(
                HederaTransaction(
                    transaction_id=signed.transaction_id,
                    batch_key=batch_key,
                    payment_keys=json.dumps(keys),
                    memo=memo,
                    signed_bytes=signed.signed_bytes,
                    status=TX_PENDING,
                    valid_until=valid_until,
                    created_at=self._clock(),
                    updated_at=self._clock(),
                )
            )
        log.info(
            "batch %s: submitting %s (%d payouts)", batch_key, signed.transaction_id, len(keys)
        )
        why = self._settle(signed.transaction_id, signed.signed_bytes, submit=True)
        paid = self._paid(source, orders)
        result.paid.update(paid)
        for order in orders:
            if order.idempotency_key not in paid:
                result.failed[order.idempotency_key] = why or "not paid"

    def _reconcile_pending(self, keys: list[str]) -> dict[str, str]:
        """Settle the pending transactions carrying ``keys``; keys still unknown → why."""
        with database_errors("ledger"), self._sessions() as session:
            rows = session.scalars(
                select(HederaTransaction).where(HederaTransaction.status == TX_PENDING)
            ).all()
        unknown: dict[str, str] = {}
        for row in rows:
            carried = set(json.loads(row.payment_keys)) & set(keys)
            if not carried:
                continue
            log.warning("transaction %s was left pending: reconciling it", row.transaction_id)
            why = self._settle(row.transaction_id, row.signed_bytes, submit=False)
            if self._status(row.transaction_id) == TX_PENDING:
                unknown.update(dict.fromkeys(carried, why or "outcome unknown"))
        return unknown

    def _settle(self, transaction_id: str, signed_bytes: bytes, *, submit: bool) -> str | None:
        """Find out what became of a stored transaction and record it; None when it
        succeeded, else why not (the row stays pending while that is unknown)."""
        if submit:
            refused = self._submit(transaction_id, signed_bytes)
            if refused is not None:
                return refused
        code = self._receipt_status(transaction_id)
        if code is None:
            seen = self.mirror.transaction(transaction_id)
            if seen is not None:
                code = seen.result
            elif not submit and self._expired(transaction_id):
                self._finish(transaction_id, TX_EXPIRED, "EXPIRED_UNSEEN")
                return f"transaction {transaction_id} expired without reaching consensus"
            elif not submit:
                return self._settle(transaction_id, signed_bytes, submit=True)
            else:
                return f"transaction {transaction_id}: no receipt yet; settle again to retry"
        self._finish(transaction_id, TX_SUCCESS if code == "SUCCESS" else TX_FAILED, code)
        return None if code == "SUCCESS" else f"transaction {transaction_id} failed: {code}"

    def _submit(self, transaction_id: str, signed_bytes: bytes) -> str | None:
        """Send the stored bytes; a refusal that proves it never ran is recorded as failed."""
        from hiero_sdk_python.transaction.transaction import Transaction

        try:
            with sdk_errors(f"submitting {transaction_id}"):
                Transaction.from_bytes(signed_bytes).execute(self.client, wait_for_receipt=False)
        except LedgerError as exc:
            if exc.code == "DUPLICATE_TRANSACTION":
                return None  # it is in already: its receipt tells the rest
            if exc.code in NEVER_EXECUTED:
                self._finish(transaction_id, TX_FAILED, exc.code)
            log.error("%s", exc.message)
            return exc.message
        return None

    def _receipt_status(self, transaction_id: str) -> str | None:
        """The receipt's status name, or None when no node has a receipt for it."""
        from hiero_sdk_python.query.transaction_get_receipt_query import (
            TransactionGetReceiptQuery,
        )
        from hiero_sdk_python.transaction.transaction_id import TransactionId

        query = TransactionGetReceiptQuery().set_transaction_id(
            TransactionId.from_string(transaction_id)
        )
        query.set_max_attempts(self.settings.receipt_attempts)
        try:
            with sdk_errors(f"the receipt of {transaction_id}"):
                receipt = query.execute(self.client)
        except LedgerError as exc:
            log.warning("%s", exc.message)
            return None
        return status_name(receipt.status)

    def _expired(self, transaction_id: str) -> bool:
        with database_errors("ledger"), self._sessions() as session:
            row = session.get_one(HederaTransaction, transaction_id)
            deadline = row.valid_until + timedelta(seconds=self.settings.mirror_lag_s)
        return self._clock() > deadline

    def _status(self, transaction_id: str) -> str:
        with database_errors("ledger"), self._sessions() as session:
            return session.get_one(HederaTransaction, transaction_id).status

    def _finish(self, transaction_id: str, status: str, result: str) -> None:
        with database_errors("ledger"), self._sessions.begin() as session:
            lock_for_write(session)
            row = session.get_one(HederaTransaction, transaction_id)
            row.status, row.result, row.updated_at = status, result, self._clock()
            if status == TX_SUCCESS:
                for key in json.loads(row.payment_keys):
                    session.get_one(HederaPayment, key).transaction_id = transaction_id
        log.info("transaction %s: %s (%s)", transaction_id, status, result)
