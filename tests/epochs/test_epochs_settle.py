"""Settling epochs on SQLite and PostgreSQL: pay once, store, chain, resume, refuse disorder."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tensornode.epochs.clock import epoch_window
from tensornode.epochs.models import EPOCH_PAYING, EPOCH_SETTLED, Epoch
from tensornode.epochs.report import EpochReport, PayoutRecord, verify_epoch
from tensornode.epochs.settle import load_report, payout_batches, settle_epoch
from tensornode.epochs.split import PayoutKind
from tensornode.errors import Conflict, UpstreamError
from tensornode.ledger.base import MintingLedger
from tensornode.ledger.local import LocalLedger

from .checks import assert_paid_exactly_once, entries, status
from .ledgers import NonMintingLedger, PayeeRefusingLedger
from .scores import POOL, TREASURY, VALIDATORS, miner, rewards, some_miners


def settle(sessions: sessionmaker[Session], ledger: Any, number: int, **kw: Any) -> EpochReport:
    return settle_epoch(
        sessions,
        ledger,
        epoch_window(number, 600),
        kw.pop("miners", some_miners()),
        kw.pop("validators", VALIDATORS),
        kw.pop("rewards", rewards()),
        **kw,
    )


def test_settling_pays_every_account_stores_and_returns_the_report(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    report = settle(sessions, ledger, 5)
    assert report.hash == report.compute_hash()
    assert verify_epoch(report, None) == []
    assert load_report(sessions, 5) == report
    assert status(sessions, 5) == EPOCH_SETTLED
    assert_paid_exactly_once(ledger, sessions, report)
    for account in ("0.0.2001", "0.0.2002", "0.0.2004", TREASURY, *VALIDATORS):
        owed = sum(p.amount for p in report.payouts if p.account == account)
        assert ledger.balance(account) == owed > 0
    assert ledger.balance("0.0.2003") == 0  # scored zero
    assert (ledger.balance(POOL), ledger.total_minted()) == (0, 1_000_003)


def test_settling_again_returns_the_stored_report_and_pays_nothing(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    first = settle(sessions, ledger, 5)
    again = settle(sessions, ledger, 5, miners=[miner("m-x", "0.0.2999", 1.0)])
    assert again == first
    assert ledger.total_minted() == 1_000_003
    assert_paid_exactly_once(ledger, sessions, first)


def test_reports_chain_to_the_previous_settled_epoch(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    first = settle(sessions, ledger, 5)
    second = settle(sessions, ledger, 6, validators=[])
    third = settle(sessions, ledger, 9)  # epochs 7 and 8 never ran
    assert (second.previous_epoch, second.previous_hash) == (5, first.hash)
    assert (third.previous_epoch, third.previous_hash) == (6, second.hash)
    assert verify_epoch(second, first) == []
    assert verify_epoch(third, second) == []
    assert ledger.total_minted() == 3 * 1_000_003
    assert ledger.balance(POOL) == 0


def test_a_refused_payout_leaves_the_epoch_paying_and_a_rerun_finishes_it(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    flaky = PayeeRefusingLedger(ledger, {"0.0.2002", "0.0.3001"})
    with pytest.raises(UpstreamError) as info:
        settle(sessions, flaky, 7)
    assert info.value.message == (
        "epoch 7: 2 of 7 payouts failed (miner payout to 0.0.2002: 0.0.2002 refused the "
        "transfer; validator payout to 0.0.3001: 0.0.3001 refused the transfer); settle the "
        "epoch again to retry them"
    )
    # the others were paid; nothing is published; the next epoch must wait
    assert ledger.balance("0.0.2001") > 0 and ledger.balance("0.0.3002") > 0
    assert ledger.balance("0.0.2002") == 0
    assert status(sessions, 7) == EPOCH_PAYING
    assert load_report(sessions, 7) is None
    with pytest.raises(Conflict, match="epoch 7 is not settled yet: settle it before epoch 8"):
        settle(sessions, ledger, 8)

    flaky.refusing.clear()
    # the scores were frozen: whatever is passed now, the frozen ones are paid
    report = settle(sessions, flaky, 7, miners=[miner("m-late", "0.0.2777", 1.0)])
    assert [m.miner_id for m in report.miners] == ["m-a", "m-b", "m-c", "m-d", "m-e"]
    assert ledger.balance("0.0.2777") == 0
    assert_paid_exactly_once(ledger, sessions, report)
    assert verify_epoch(report, None) == []
    assert settle(sessions, ledger, 8).previous_hash == report.hash


def test_an_epoch_cannot_be_settled_after_a_later_one(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    settle(sessions, ledger, 5)
    with pytest.raises(Conflict, match="epoch 5 is already frozen: epoch 4 cannot come after it"):
        settle(sessions, ledger, 4)
    assert entries(sessions, 4) == []


def test_zero_emission_pays_nothing_and_still_publishes(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    report = settle(sessions, ledger, 3, rewards=rewards(emission=0))
    assert report.payouts == []
    assert ledger.total_minted() == 0
    assert verify_epoch(report, None) == []
    assert status(sessions, 3) == EPOCH_SETTLED


def test_a_non_minting_ledger_pays_from_the_funded_pool(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    plain = NonMintingLedger(ledger)
    assert not isinstance(plain, MintingLedger)
    ledger.mint(POOL, 1_500_000, idempotency_key="fund-pool")
    report = settle(sessions, plain, 5)
    assert ledger.balance(POOL) == 1_500_000 - 1_000_003
    assert ledger.total_minted() == 1_500_000
    assert entries(sessions, 5) == sorted(p.idempotency_key for p in report.payouts)

    # an underfunded pool pays whom it can and says what is missing; funding it finishes
    with pytest.raises(UpstreamError) as info:
        settle(sessions, plain, 6)
    assert info.value.message.startswith("epoch 6: 4 of 7 payouts failed (miner payout to ")
    assert "insufficient funds: 0.0.99 holds 7391, the transfer needs 100000" in info.value.message
    assert status(sessions, 6) == EPOCH_PAYING
    ledger.mint(POOL, 1_000_000, idempotency_key="top-up-pool")
    second = settle(sessions, plain, 6)
    assert ledger.balance(POOL) == 2_500_000 - 2 * 1_000_003
    assert entries(sessions, 6) == sorted(p.idempotency_key for p in second.payouts)
    assert verify_epoch(second, report) == []


def test_two_settlers_racing_pay_each_account_once(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = settle(sessions, ledger, 12)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, EpochReport) for r in results), results
    assert results[0] == results[1]
    assert_paid_exactly_once(ledger, sessions, results[0])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Epoch)) == 1


def test_payouts_are_cut_into_batches_naming_no_account_twice() -> None:
    def payout(account: str, kind: PayoutKind) -> PayoutRecord:
        return PayoutRecord(account=account, kind=kind, amount=1, idempotency_key=account + kind)

    payouts = [payout("0.0.1", "miner"), payout("0.0.1", "validator"), payout("0.0.2", "miner")]
    payouts += [payout(f"0.0.{n}", "miner") for n in range(3, 8)]
    batches = payout_batches(payouts, 3)
    assert [[(p.account, p.kind) for p in batch] for batch in batches] == [
        [("0.0.1", "miner")],
        [("0.0.1", "validator"), ("0.0.2", "miner"), ("0.0.3", "miner")],
        [("0.0.4", "miner"), ("0.0.5", "miner"), ("0.0.6", "miner")],
        [("0.0.7", "miner")],
    ]
    assert [p for batch in batches for p in batch] == payouts
