"""The local ledger on SQLite and PostgreSQL: balances, double entry, idempotency, refusals."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tensornode.errors import Forbidden, InvalidInput
from tensornode.ledger.base import (
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
    MintingLedger,
    Receipt,
)
from tensornode.ledger.local import LocalLedger
from tensornode.ledger.models import LedgerEntry

ALICE, BOB, CAROL = "0.0.1001", "0.0.1002", "0.0.1003"


def entry_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def test_local_ledger_satisfies_the_protocols(ledger: LocalLedger) -> None:
    assert isinstance(ledger, MintingLedger)
    as_ledger: Ledger = ledger
    assert as_ledger.balance(ALICE) == 0


def test_mint_transfer_and_history(ledger: LocalLedger) -> None:
    minted = ledger.mint(ALICE, 1_000, idempotency_key="mint-1", memo="genesis")
    assert (minted.kind, minted.source, minted.destination, minted.amount) == (
        "mint",
        None,
        ALICE,
        1_000,
    )
    sent = ledger.transfer(ALICE, BOB, 300, idempotency_key="t-1", memo="rent")
    assert (sent.kind, sent.source, sent.destination, sent.amount, sent.memo) == (
        "transfer",
        ALICE,
        BOB,
        300,
        "rent",
    )
    assert sent.created_at.tzinfo is not None
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.balance(CAROL)) == (700, 300, 0)

    history = ledger.history(ALICE)
    assert [(h.transaction_id, h.kind, h.counterparty, h.amount) for h in history] == [
        (sent.transaction_id, "transfer", BOB, -300),
        (minted.transaction_id, "mint", None, 1_000),
    ]
    assert [(h.counterparty, h.amount, h.memo) for h in ledger.history(BOB)] == [
        (ALICE, 300, "rent")
    ]
    assert len(ledger.history(ALICE, limit=1)) == 1
    assert ledger.total_minted() == 1_000
    assert ledger.audit() == []


def test_repeated_key_returns_the_first_receipt_and_moves_nothing(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    ledger.mint(ALICE, 500, idempotency_key="mint")
    first = ledger.transfer(ALICE, BOB, 200, idempotency_key="pay-bob", memo="m")
    again = ledger.transfer(ALICE, BOB, 200, idempotency_key="pay-bob", memo="m")
    assert again == first
    assert ledger.mint(ALICE, 500, idempotency_key="mint").transaction_id == "local-1"
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.total_minted()) == (300, 200, 500)
    assert entry_count(sessions) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 201},
        {"destination": CAROL},
        {"source": CAROL},
        {"memo": "other"},
    ],
)
def test_same_key_with_different_parameters_is_refused(
    ledger: LocalLedger, change: dict[str, Any]
) -> None:
    ledger.mint(ALICE, 500, idempotency_key="mint")
    ledger.mint(CAROL, 500, idempotency_key="mint-carol")
    ledger.transfer(ALICE, BOB, 200, idempotency_key="pay-bob", memo="m")
    args: dict[str, Any] = {"source": ALICE, "destination": BOB, "amount": 200, "memo": "m"}
    args.update(change)
    with pytest.raises(IdempotencyConflict) as info:
        ledger.transfer(idempotency_key="pay-bob", **args)
    assert info.value.status == 409
    assert info.value.message == (
        "idempotency key 'pay-bob' was already used for a different transfer "
        f"(200 from {ALICE} to {BOB})"
    )
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.balance(CAROL)) == (300, 200, 500)


def test_a_mint_key_cannot_be_reused_for_a_transfer(ledger: LocalLedger) -> None:
    ledger.mint(ALICE, 500, idempotency_key="k")
    with pytest.raises(IdempotencyConflict, match="already used for a different mint"):
        ledger.transfer(ALICE, BOB, 500, idempotency_key="k")


def test_insufficient_funds_are_refused_and_leave_no_trace(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    ledger.mint(ALICE, 100, idempotency_key="mint")
    with pytest.raises(InsufficientFunds) as info:
        ledger.transfer(ALICE, BOB, 101, idempotency_key="too-much")
    assert info.value.status == 409
    assert info.value.message == f"insufficient funds: {ALICE} holds 100, the transfer needs 101"
    with pytest.raises(InsufficientFunds, match=f"{CAROL} holds 0, the transfer needs 1"):
        ledger.transfer(CAROL, BOB, 1, idempotency_key="nothing")
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (100, 0)
    assert entry_count(sessions) == 1
    # the refused key was never recorded: once funded, the same transfer goes through
    ledger.mint(ALICE, 1, idempotency_key="top-up")
    assert ledger.transfer(ALICE, BOB, 101, idempotency_key="too-much").amount == 101
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (0, 101)
    assert ledger.audit() == []


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, "amount must be an integer number of the smallest unit, got 1.5 (float)"),
        (10.0, "amount must be an integer number of the smallest unit, got 10.0 (float)"),
        (True, "amount must be an integer number of the smallest unit, got True (bool)"),
        (
            Decimal("5"),
            "amount must be an integer number of the smallest unit, got Decimal('5') (Decimal)",
        ),
        ("5", "amount must be an integer number of the smallest unit, got '5' (str)"),
        (0, "amount must be positive, got 0"),
        (-5, "amount must be positive, got -5"),
        (2**63, f"amount {2**63} exceeds the largest transfer ({2**63 - 1})"),
    ],
)
def test_bad_amounts_are_refused(ledger: LocalLedger, amount: object, message: str) -> None:
    ledger.mint(ALICE, 100, idempotency_key="mint")
    with pytest.raises(InvalidInput) as info:
        ledger.transfer(ALICE, BOB, amount, idempotency_key="bad")  # type: ignore[arg-type]
    assert info.value.message == message
    with pytest.raises(InvalidInput):
        ledger.mint(ALICE, amount, idempotency_key="bad-mint")  # type: ignore[arg-type]
    assert ledger.balance(ALICE) == 100


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda lg: lg.transfer("alice", BOB, 1, idempotency_key="k"),
            "account must be a Hedera account id like 0.0.123, got 'alice'",
        ),
        (
            lambda lg: lg.transfer(ALICE, "@issuance", 1, idempotency_key="k"),
            "account must be a Hedera account id like 0.0.123, got '@issuance'",
        ),
        (
            lambda lg: lg.transfer(ALICE, ALICE, 1, idempotency_key="k"),
            f"cannot transfer from {ALICE} to itself",
        ),
        (
            lambda lg: lg.transfer(ALICE, BOB, 1, idempotency_key=""),
            "idempotency_key must be a non-empty string of at most 200 characters",
        ),
        (
            lambda lg: lg.transfer(ALICE, BOB, 1, idempotency_key="k" * 201),
            "idempotency_key must be a non-empty string of at most 200 characters",
        ),
        (
            lambda lg: lg.transfer(ALICE, BOB, 1, idempotency_key="k", memo="m" * 101),
            "memo must be a string of at most 100 characters",
        ),
        (
            lambda lg: lg.balance("0.0"),
            "account must be a Hedera account id like 0.0.123, got '0.0'",
        ),
        (lambda lg: lg.history(ALICE, limit=0), "limit must be a positive integer, got 0"),
    ],
)
def test_bad_arguments_are_refused(
    ledger: LocalLedger, call: Callable[[LocalLedger], object], message: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        call(ledger)
    assert info.value.message == message


def test_faucet_only_in_dev_mode(sessions: sessionmaker[Session]) -> None:
    dev = LocalLedger(sessions, dev_mode=True)
    first = dev.faucet(ALICE, 50)
    second = dev.faucet(ALICE, 50)
    assert first.idempotency_key != second.idempotency_key
    assert dev.balance(ALICE) == 100
    production = LocalLedger(sessions, dev_mode=False)
    with pytest.raises(Forbidden, match="the faucet is only available in dev mode"):
        production.faucet(ALICE, 50)
    assert production.balance(ALICE) == 100


def run_together(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released at once; results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_threads_with_the_same_key_pay_once(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    ledger.mint(ALICE, 10_000, idempotency_key="mint")
    for attempt in range(5):
        key = f"race-{attempt}"

        def pay(_: int, key: str = key) -> Receipt:
            return ledger.transfer(ALICE, BOB, 7, idempotency_key=key)

        receipts = run_together(2, pay)
        assert all(isinstance(r, Receipt) for r in receipts), receipts
        assert receipts[0] == receipts[1]
    assert (ledger.balance(ALICE), ledger.balance(BOB)) == (10_000 - 35, 35)
    assert entry_count(sessions) == 6
    assert ledger.audit() == []


def test_concurrent_payers_never_overdraw(ledger: LocalLedger) -> None:
    ledger.mint(ALICE, 50, idempotency_key="mint")
    results = run_together(
        8, lambda i: ledger.transfer(ALICE, f"0.0.{2000 + i}", 10, idempotency_key=f"drain-{i}")
    )
    paid = [r for r in results if isinstance(r, Receipt)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(paid), len(refused)) == (5, 3), results
    assert ledger.balance(ALICE) == 0
    assert sum(ledger.balance(f"0.0.{2000 + i}") for i in range(8)) == 50
    assert ledger.audit() == []


def test_crossing_transfers_do_not_deadlock(ledger: LocalLedger) -> None:
    ledger.mint(ALICE, 1_000, idempotency_key="mint-a")
    ledger.mint(BOB, 1_000, idempotency_key="mint-b")

    def cross(i: int) -> Receipt:
        source, destination = (ALICE, BOB) if i % 2 else (BOB, ALICE)
        return ledger.transfer(source, destination, 1 + i, idempotency_key=f"cross-{i}")

    results = run_together(6, cross)
    assert all(isinstance(r, Receipt) for r in results), results
    assert ledger.balance(ALICE) + ledger.balance(BOB) == 2_000
    assert ledger.audit() == []


operations = st.lists(
    st.tuples(
        st.sampled_from(["mint", "transfer"]),
        st.sampled_from([ALICE, BOB, CAROL]),
        st.sampled_from([ALICE, BOB, CAROL]),
        st.integers(1, 500),
        st.integers(0, 15),  # small key space: repeats and conflicts happen
    ),
    max_size=25,
)


@settings(
    max_examples=15,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_invariants_hold_after_any_sequence(
    ledger: LocalLedger, ops: list[tuple[str, str, str, int, int]]
) -> None:
    run = uuid.uuid4().hex  # keys of one example never meet another example's (same ledger)
    before = {a: ledger.balance(a) for a in (ALICE, BOB, CAROL)}
    minted_before = ledger.total_minted()
    moved: dict[str, int] = dict.fromkeys(before, 0)
    minted = 0
    seen: set[str] = set()  # a replayed key returns a receipt already counted
    for kind, source, destination, amount, key_no in ops:
        key = f"{run}-{key_no}"
        try:
            if kind == "mint":
                receipt = ledger.mint(destination, amount, idempotency_key=key)
            else:
                receipt = ledger.transfer(source, destination, amount, idempotency_key=key)
        except (IdempotencyConflict, InsufficientFunds, InvalidInput):
            continue
        if receipt.transaction_id in seen:
            continue
        seen.add(receipt.transaction_id)
        if receipt.source is None:
            minted += receipt.amount
        else:
            moved[receipt.source] -= receipt.amount
        moved[receipt.destination] += receipt.amount
    for account in before:
        assert ledger.balance(account) == before[account] + moved[account]
        assert ledger.balance(account) >= 0
    assert ledger.total_minted() == minted_before + minted
    assert ledger.audit() == []
