"""The local ledger: SQL (SQLite or PostgreSQL), double-entry, idempotent.

Each transfer or mint is one database transaction: a journal entry (its idempotency key
unique), two lines summing to zero, and the two balances updated in place. A debit is a
conditional ``UPDATE ... WHERE balance >= amount``, so concurrent payers can never
overdraw an account. Two callers racing with one key both get the first receipt: the
loser's insert hits the unique key, rolls back, and reads the winner's entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tensornode.db.models import utcnow
from tensornode.errors import Forbidden, InvalidInput, UpstreamError
from tensornode.ledger.base import (
    DEFAULT_MAX_BATCH,
    MAX_AMOUNT,
    BatchResult,
    EntryKind,
    HistoryEntry,
    IdempotencyConflict,
    InsufficientFunds,
    Receipt,
    TransferOrder,
    check_account,
    check_amount,
    check_batch,
    check_key,
    check_memo,
    transfer_each,
)
from tensornode.ledger.database import database_errors, lock_for_write
from tensornode.ledger.models import ISSUANCE_ACCOUNT, LedgerAccount, LedgerEntry, LedgerLine


def _receipt(entry: LedgerEntry) -> Receipt:
    debit = next(line for line in entry.lines if line.amount < 0)
    credit = next(line for line in entry.lines if line.amount > 0)
    return Receipt(
        transaction_id=f"local-{entry.id}",
        idempotency_key=entry.idempotency_key,
        kind="mint" if entry.kind == "mint" else "transfer",
        source=None if debit.account_id == ISSUANCE_ACCOUNT else debit.account_id,
        destination=credit.account_id,
        amount=credit.amount,
        memo=entry.memo,
        created_at=entry.created_at,
    )


def _parameters(receipt: Receipt) -> tuple[str, str | None, str, int, str]:
    """What an idempotency key is bound to."""
    return (receipt.kind, receipt.source, receipt.destination, receipt.amount, receipt.memo)


class LocalLedger:
    """A :class:`~tensornode.ledger.base.MintingLedger` kept in SQL tables."""

    max_batch = DEFAULT_MAX_BATCH

    def __init__(self, sessions: sessionmaker[Session], *, dev_mode: bool = False) -> None:
        self._sessions = sessions
        self._dev_mode = dev_mode

    # -- reads ------------------------------------------------------------------------

    def balance(self, account: str) -> int:
        """The account's balance; 0 for an account never seen."""
        check_account(account)
        with database_errors("ledger"), self._sessions() as session:
            value = session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == account))
        return value or 0

    def history(self, account: str, *, limit: int = 100) -> list[HistoryEntry]:
        """The account's movements, newest first."""
        check_account(account)
        if type(limit) is not int or limit < 1:
            raise InvalidInput(f"limit must be a positive integer, got {limit!r}")
        query = (
            select(LedgerEntry)
            .join(LedgerLine, LedgerLine.entry_id == LedgerEntry.id)
            .where(LedgerLine.account_id == account)
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
        with database_errors("ledger"), self._sessions() as session:
            entries = session.scalars(query).all()
            return [self._history_entry(entry, account) for entry in entries]

    def total_minted(self) -> int:
        """Everything ever minted: minus the issuance account's balance."""
        with database_errors("ledger"), self._sessions() as session:
            value = session.scalar(
                select(LedgerAccount.balance).where(LedgerAccount.id == ISSUANCE_ACCOUNT)
            )
        return -(value or 0)

    # -- writes -----------------------------------------------------------------------

    def transfer(
        self, source: str, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """Move ``amount`` from ``source`` to ``destination`` once per ``idempotency_key``."""
        check_account(source)
        check_account(destination)
        if source == destination:
            raise InvalidInput(f"cannot transfer from {source} to itself")
        return self._post(
            "transfer",
            source,
            destination,
            check_amount(amount),
            check_key(idempotency_key),
            check_memo(memo),
        )

    def transfer_batch(
        self, source: str, orders: Sequence[TransferOrder], *, batch_key: str, memo: str
    ) -> BatchResult:
        """Pay each order as its own idempotent transfer (``batch_key`` names the batch only)."""
        check_account(source)
        check_key(batch_key)
        check_batch(orders, self.max_batch)
        return transfer_each(self, source, orders, check_memo(memo))

    def mint(
        self, destination: str, amount: int, *, idempotency_key: str, memo: str = ""
    ) -> Receipt:
        """Create ``amount`` in ``destination`` once per ``idempotency_key``."""
        check_account(destination)
        return self._post(
            "mint",
            ISSUANCE_ACCOUNT,
            destination,
            check_amount(amount),
            check_key(idempotency_key),
            check_memo(memo),
        )

    def faucet(self, account: str, amount: int) -> Receipt:
        """Mint test money into ``account``: dev mode only."""
        if not self._dev_mode:
            raise Forbidden("the faucet is only available in dev mode")
        return self.mint(
            account, amount, idempotency_key=f"faucet:{uuid.uuid4().hex}", memo="faucet"
        )

    def _post(
        self, kind: EntryKind, source: str, destination: str, amount: int, key: str, memo: str
    ) -> Receipt:
        wanted = (kind, None if source == ISSUANCE_ACCOUNT else source, destination, amount, memo)
        existing = self._find(key)
        if existing is None:
            try:
                with database_errors("ledger"), self._sessions.begin() as session:
                    return self._write(session, kind, source, destination, amount, key, memo)
            except IntegrityError as exc:
                existing = self._find(key)
                if existing is None:
                    raise UpstreamError(f"the ledger refused entry {key!r}: {exc.orig}") from exc
        if _parameters(existing) != wanted:
            raise IdempotencyConflict(
                f"idempotency key {key!r} was already used for a different {existing.kind} "
                f"({existing.amount} from {existing.source or 'mint'} to {existing.destination})"
            )
        return existing

    def _find(self, key: str) -> Receipt | None:
        with database_errors("ledger"), self._sessions() as session:
            entry = session.scalar(select(LedgerEntry).where(LedgerEntry.idempotency_key == key))
            return None if entry is None else _receipt(entry)

    def _write(
        self,
        session: Session,
        kind: EntryKind,
        source: str,
        destination: str,
        amount: int,
        key: str,
        memo: str,
    ) -> Receipt:
        lock_for_write(session)
        entry = LedgerEntry(idempotency_key=key, kind=kind, memo=memo, created_at=utcnow())
        session.add(entry)
        session.flush()  # a duplicate key fails here, before any balance moves
        self._ensure_accounts(session, [source, destination])
        deltas = {source: -amount, destination: amount}
        for account in sorted(deltas):  # one lock order for every writer: no deadlocks
            self._apply(session, account, deltas[account])
        entry.lines = [
            LedgerLine(entry_id=entry.id, account_id=account, amount=delta)
            for account, delta in deltas.items()
        ]
        session.flush()
        return _receipt(entry)

    @staticmethod
    def _ensure_accounts(session: Session, accounts: list[str]) -> None:
        now = utcnow()
        rows = [
            {"id": a, "balance": 0, "is_system": a == ISSUANCE_ACCOUNT, "created_at": now}
            for a in sorted(accounts)  # same lock order as the balance updates
        ]
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(LedgerAccount).values(rows).on_conflict_do_nothing())

    @staticmethod
    def _apply(session: Session, account: str, delta: int) -> None:
        stmt = update(LedgerAccount).where(LedgerAccount.id == account)
        if delta < 0:
            floor = -MAX_AMOUNT if account == ISSUANCE_ACCOUNT else 0
            stmt = stmt.where(LedgerAccount.balance >= floor - delta)
        else:
            stmt = stmt.where(LedgerAccount.balance <= MAX_AMOUNT - delta)
        stmt = stmt.values(balance=LedgerAccount.balance + delta)
        result = session.connection().execute(stmt)
        if result.rowcount == 1:
            return
        held = session.scalar(select(LedgerAccount.balance).where(LedgerAccount.id == account))
        if delta < 0 and account != ISSUANCE_ACCOUNT:
            raise InsufficientFunds(
                f"insufficient funds: {account} holds {held or 0}, the transfer needs {-delta}"
            )
        raise InvalidInput(f"the balance of {account} ({held}) cannot take {delta:+d} more")

    @staticmethod
    def _history_entry(entry: LedgerEntry, account: str) -> HistoryEntry:
        mine = sum(line.amount for line in entry.lines if line.account_id == account)
        others = [line.account_id for line in entry.lines if line.account_id != account]
        counterparty = others[0] if others and others[0] != ISSUANCE_ACCOUNT else None
        return HistoryEntry(
            transaction_id=f"local-{entry.id}",
            idempotency_key=entry.idempotency_key,
            kind="mint" if entry.kind == "mint" else "transfer",
            counterparty=counterparty,
            amount=mine,
            memo=entry.memo,
            created_at=entry.created_at,
        )

    # -- checks -----------------------------------------------------------------------

    def audit(self) -> list[str]:
        """Double-entry invariants that do not hold, as sentences (empty: all hold)."""
        problems: list[str] = []
        with database_errors("ledger"), self._sessions() as session:
            unbalanced = session.execute(
                select(LedgerLine.entry_id, func.sum(LedgerLine.amount))
                .group_by(LedgerLine.entry_id)
                .having(func.sum(LedgerLine.amount) != 0)
            ).all()
            problems += [f"entry {e} lines sum to {s}, not 0" for e, s in unbalanced]
            per_account = select(LedgerLine.account_id, func.sum(LedgerLine.amount)).group_by(
                LedgerLine.account_id
            )
            derived = {account: int(total) for account, total in session.execute(per_account)}
            for row in session.scalars(select(LedgerAccount)):
                lines_sum = derived.get(row.id, 0)
                if row.balance != lines_sum:
                    problems.append(f"{row.id} balance {row.balance} != its lines {lines_sum}")
                if row.balance < 0 and not row.is_system:
                    problems.append(f"{row.id} balance is negative ({row.balance})")
            total = session.scalar(select(func.coalesce(func.sum(LedgerAccount.balance), 0)))
            if int(total or 0) != 0:
                problems.append(f"balances sum to {total}, not 0")
        return problems
