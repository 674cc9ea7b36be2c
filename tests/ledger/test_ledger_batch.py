"""Batches on the local ledger: each order paid once per key, failures reported, not raised."""

from __future__ import annotations

import pytest

from tensornode.errors import InvalidInput
from tensornode.ledger.base import TransferOrder
from tensornode.ledger.local import LocalLedger

POOL, ALICE, BOB = "0.0.1000", "0.0.2001", "0.0.2002"


def test_a_batch_pays_each_order_once_and_reports_what_failed(ledger: LocalLedger) -> None:
    ledger.mint(POOL, 100, idempotency_key="fund")
    orders = [TransferOrder(ALICE, 60, "pay-alice"), TransferOrder(BOB, 70, "pay-bob")]

    first = ledger.transfer_batch(POOL, orders, batch_key="b1", memo="epoch 1 batch 1/1")
    assert sorted(first.paid) == ["pay-alice"]
    assert first.failed == {
        "pay-bob": "insufficient funds: 0.0.1000 holds 40, the transfer needs 70"
    }
    assert first.paid["pay-alice"].memo == "epoch 1 batch 1/1"

    ledger.mint(POOL, 100, idempotency_key="fund-more")
    again = ledger.transfer_batch(POOL, orders, batch_key="b1", memo="epoch 1 batch 1/1")
    assert again.failed == {}
    assert again.paid["pay-alice"] == first.paid["pay-alice"]  # the same receipt: not paid twice
    assert (ledger.balance(ALICE), ledger.balance(BOB), ledger.balance(POOL)) == (60, 70, 70)


@pytest.mark.parametrize(
    ("orders", "message"),
    [
        ([], "a batch holds 1 to 9 orders, got 0"),
        ([TransferOrder(f"0.0.{3000 + i}", 1, f"k{i}") for i in range(10)], "got 10"),
        ([TransferOrder(ALICE, 1, "k"), TransferOrder(BOB, 1, "k")], "an idempotency key twice"),
        ([TransferOrder(ALICE, 1, "a"), TransferOrder(ALICE, 2, "b")], "pays an account twice"),
        ([TransferOrder(ALICE, 1.5, "a")], "amount must be an integer"),  # type: ignore[arg-type]
    ],
)
def test_malformed_batches_are_refused_before_anything_moves(
    ledger: LocalLedger, orders: list[TransferOrder], message: str
) -> None:
    ledger.mint(POOL, 100, idempotency_key="fund")
    with pytest.raises(InvalidInput, match=message):
        ledger.transfer_batch(POOL, orders, batch_key="b", memo="m")
    assert ledger.balance(POOL) == 100
