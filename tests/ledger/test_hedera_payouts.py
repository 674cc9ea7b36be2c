"""Paying batches on Hedera end to end: the SDK, a fake consensus node over gRPC, a fake
mirror node over HTTP. Each payee paid exactly once; BUSY retried; refusals reported."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tensornode.ledger.base import TransferOrder
from tensornode.ledger.hedera.ledger import HederaLedger
from tensornode.ledger.hedera.transactions import parse_transaction

from .hedera_network import FUNDS, OPERATOR, Network

PAYEES = [f"0.0.{2001 + i}" for i in range(12)]


def orders(amounts: list[int], payees: list[str] = PAYEES) -> list[TransferOrder]:
    return [
        TransferOrder(p, n, f"epoch:7:miner:{p}") for p, n in zip(payees, amounts, strict=False)
    ]


@pytest.fixture
def ledgers() -> Iterator[list[HederaLedger]]:
    made: list[HederaLedger] = []
    yield made
    for ledger in made:
        ledger.close()


def make_ledger(
    network: Network, db: tuple[str, sessionmaker[Session]], made: list[HederaLedger], **kw: Any
) -> HederaLedger:
    made.append(HederaLedger(network.settings(**kw), db[1]))
    return made[-1]


def test_a_batch_is_one_signed_transfer_and_is_paid_once(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    for payee in PAYEES:
        network.add_payee(payee)
    ledger = make_ledger(network, hedera_db, ledgers)
    batch = orders([10, 20, 30])

    result = ledger.transfer_batch(
        OPERATOR, batch, batch_key="epoch:7:batch:1", memo="tensornode epoch 7 batch 1/1"
    )

    assert result.failed == {}
    [record] = network.node.executed()
    assert record.status.name == "SUCCESS"
    assert sorted(record.transfers) == [
        (OPERATOR, -60),
        ("0.0.2001", 10),
        ("0.0.2002", 20),
        ("0.0.2003", 30),
    ]
    assert record.memo == "tensornode epoch 7 batch 1/1"
    assert {r.transaction_id for r in result.paid.values()} == {record.transaction_id}
    assert [ledger.balance(p) for p in PAYEES[:3]] == [10, 20, 30]
    assert ledger.balance(OPERATOR) == FUNDS - 60 - network.node.fee

    again = ledger.transfer_batch(
        OPERATOR, batch, batch_key="epoch:7:batch:1", memo="tensornode epoch 7 batch 1/1"
    )
    assert again.paid == result.paid
    assert len(network.node.executed()) == 1  # nothing sent a second time
    history = ledger.history("0.0.2002")
    assert [(h.amount, h.counterparty, h.memo) for h in history] == [
        (20, OPERATOR, "tensornode epoch 7 batch 1/1")
    ]


def test_busy_nodes_are_retried_with_backoff(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    network.add_payee("0.0.2001")
    network.node.busy = 3
    ledger = make_ledger(network, hedera_db, ledgers)
    result = ledger.transfer_batch(OPERATOR, orders([5]), batch_key="b", memo="m")
    assert result.failed == {}
    assert len(network.node.submissions) == 4  # three BUSY answers, then accepted
    assert len(set(network.node.submissions)) == 1  # the same transaction every time
    assert ledger.balance("0.0.2001") == 5


def test_a_node_busy_past_every_attempt_leaves_the_payout_to_a_rerun(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    network.add_payee("0.0.2001")
    network.node.busy = 100
    ledger = make_ledger(network, hedera_db, ledgers, max_attempts=2)
    first = ledger.transfer_batch(OPERATOR, orders([5]), batch_key="b", memo="m")
    assert list(first.failed.values()) == [
        "submitting " + network.node.submissions[0] + ": gave up after retries (BUSY)"
    ]
    network.node.busy = 0
    second = ledger.transfer_batch(OPERATOR, orders([5]), batch_key="b", memo="m")
    assert second.failed == {}
    assert ledger.balance("0.0.2001") == 5
    assert len(network.node.executed()) == 1


def test_a_refused_transfer_is_reported_and_paid_once_funds_arrive(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    network.add_payee("0.0.2001")
    ledger = make_ledger(network, hedera_db, ledgers)
    big = orders([FUNDS])
    first = ledger.transfer_batch(OPERATOR, big, batch_key="b", memo="m")
    [why] = first.failed.values()
    assert why.endswith("failed: INSUFFICIENT_ACCOUNT_BALANCE")
    network.node.accounts[OPERATOR].balance += FUNDS
    second = ledger.transfer_batch(OPERATOR, big, batch_key="b", memo="m")
    assert second.failed == {}
    assert ledger.balance("0.0.2001") == FUNDS
    assert [r.status.name for r in network.node.executed()] == [
        "INSUFFICIENT_ACCOUNT_BALANCE",
        "SUCCESS",
    ]


def test_the_signed_bytes_parse_back_to_what_was_paid(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    from tensornode.ledger.hedera.models import HederaTransaction

    for payee in PAYEES[:9]:
        network.add_payee(payee)
    ledger = make_ledger(network, hedera_db, ledgers)
    ledger.transfer_batch(
        OPERATOR, orders(list(range(1, 10))), batch_key="b", memo="epoch 7 batch 2/3"
    )
    with hedera_db[1]() as session:
        [row] = session.query(HederaTransaction).all()
    parsed = parse_transaction(row.signed_bytes)
    assert parsed.transaction_id == row.transaction_id
    assert parsed.kind == "cryptoTransfer"
    assert parsed.memo == "epoch 7 batch 2/3"
    assert parsed.transfers == {OPERATOR: -45, **{p: i + 1 for i, p in enumerate(PAYEES[:9])}}
    assert len(parsed.transfers) == 10  # Hedera's limit: the debit and nine credits
    assert parsed.signers == {network.operator_key.public_key().to_bytes_raw().hex()}
    assert (parsed.node_account_id, parsed.valid_duration_s) == ("0.0.3", 120)


def test_an_epoch_with_many_payees_is_paid_in_transactions_of_at_most_ten_transfers(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], ledgers: list[HederaLedger]
) -> None:
    from epochs.scores import miner
    from tensornode.config import RewardsSettings
    from tensornode.epochs.clock import epoch_window
    from tensornode.epochs.report import SplitConfig, draft_report
    from tensornode.epochs.settle import pay_epoch

    miners = [miner(f"m{i:02d}", p, 0.5 + i / 100) for i, p in enumerate(PAYEES)]
    for payee in [*PAYEES, "0.0.1001", "0.0.3001"]:
        network.add_payee(payee)
    rewards = RewardsSettings(pool_account=OPERATOR, treasury_account="0.0.1001")
    draft = draft_report(
        epoch_window(21, 600),
        miners,
        ["0.0.3001"],
        emission=1_000_000,
        config=SplitConfig.from_settings(rewards),
        previous=None,
    )
    ledger = make_ledger(network, hedera_db, ledgers)

    paid = pay_epoch(ledger, draft)

    assert len(paid) == len(draft.payouts) == 14
    transactions = network.node.executed()
    assert [len(r.transfers) for r in transactions] == [10, 6]  # the debit and 9, then 5
    assert [r.memo for r in transactions] == [
        "tensornode epoch 21 batch 1/2",
        "tensornode epoch 21 batch 2/2",
    ]
    for payout in draft.payouts:
        assert network.node.accounts[payout.account].balance == payout.amount
    assert pay_epoch(ledger, draft) == paid  # settling again pays nothing twice
    assert len(network.node.executed()) == 2
