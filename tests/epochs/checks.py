"""Assertions shared by the settlement tests: what the ledger holds for an epoch."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tensornode.epochs.models import Epoch
from tensornode.epochs.report import EpochReport
from tensornode.ledger.local import LocalLedger
from tensornode.ledger.models import LedgerEntry

from .scores import POOL


def entries(sessions: sessionmaker[Session], epoch: int) -> list[str]:
    """Idempotency keys of the ledger entries an epoch made."""
    with sessions() as session:
        return sorted(
            session.scalars(
                select(LedgerEntry.idempotency_key).where(
                    LedgerEntry.idempotency_key.like(f"epoch:{epoch}:%")
                )
            )
        )


def status(sessions: sessionmaker[Session], epoch: int) -> str | None:
    with sessions() as session:
        row = session.get(Epoch, epoch)
        return None if row is None else row.status


def assert_paid_exactly_once(
    ledger: LocalLedger, sessions: sessionmaker[Session], report: EpochReport
) -> None:
    keys = [p.idempotency_key for p in report.payouts]
    minted = [f"epoch:{report.epoch}:mint"] if report.emission else []
    assert entries(sessions, report.epoch) == sorted(keys + minted)
    for payout in report.payouts:
        received = [
            h for h in ledger.history(payout.account) if h.idempotency_key == payout.idempotency_key
        ]
        assert [(h.amount, h.counterparty, h.transaction_id) for h in received] == [
            (payout.amount, POOL, payout.transaction_id)
        ]
    assert sum(p.amount for p in report.payouts) == report.emission
    assert ledger.audit() == []
