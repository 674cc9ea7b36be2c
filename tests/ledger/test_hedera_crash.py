"""A payer SIGKILLed between submitting a transfer and reading its receipt, rerun: the
rerun finds the stored transaction (by its receipt, or the mirror node once receipts are
gone) and pays every account exactly once. Also: stored but never sent, and expired."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tensornode.ledger.base import TransferOrder
from tensornode.ledger.hedera.ledger import HederaLedger
from tensornode.ledger.hedera.models import TX_EXPIRED, TX_PENDING, TX_SUCCESS, HederaTransaction
from tensornode.ledger.hedera.transactions import build_transfer

from .hedera_network import FUNDS, OPERATOR, Network

CHILD = Path(__file__).with_name("hedera_child.py")
PAYEES = ["0.0.2001", "0.0.2002", "0.0.2003"]
ORDERS = [TransferOrder(p, 100 * (i + 1), f"epoch:9:miner:{p}") for i, p in enumerate(PAYEES)]


def child_env(network: Network) -> dict[str, str]:
    settings = network.settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENSORNODE_HEDERA__")}
    env.update(
        TENSORNODE_HEDERA__NETWORK="custom",
        TENSORNODE_HEDERA__NODES=json.dumps(settings.nodes),
        TENSORNODE_HEDERA__MIRROR_URL=network.mirror_url,
        TENSORNODE_HEDERA__OPERATOR_ID=OPERATOR,
        TENSORNODE_HEDERA__OPERATOR_KEY=network.operator_key.to_string_der(),
        TENSORNODE_HEDERA__MIN_BACKOFF_S="0.05",
        TENSORNODE_HEDERA__MAX_BACKOFF_S="0.2",
        TENSORNODE_HEDERA__MAX_ATTEMPTS="1000",
        TENSORNODE_HEDERA__RECEIPT_ATTEMPTS="3",
    )
    return env


def pay_in_child(db_url: str, network: Network) -> subprocess.Popen[str]:
    orders = json.dumps([o.__dict__ for o in ORDERS])
    return subprocess.Popen(
        [sys.executable, str(CHILD), db_url, orders],
        env=child_env(network),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_after_consensus(child: subprocess.Popen[str], network: Network) -> None:
    deadline = time.monotonic() + 60
    while not network.node.executed():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the payer never submitted"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.query(HederaTransaction).order_by(HederaTransaction.created_at).all()
        return [(row.transaction_id, row.status) for row in rows]


def assert_paid_exactly_once(network: Network) -> None:
    transfers = [r for r in network.node.executed() if r.status.name == "SUCCESS"]
    assert len(transfers) == 1
    for order in ORDERS:
        assert network.node.accounts[order.destination].balance == order.amount
    fees = network.node.fee * len(network.node.executed())
    assert network.node.accounts[OPERATOR].balance == FUNDS - 600 - fees


@pytest.mark.parametrize("receipts", ["kept", "expired"])
def test_killed_between_submit_and_receipt_pays_each_account_once(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], receipts: str
) -> None:
    db_url, sessions = hedera_db
    for payee in PAYEES:
        network.add_payee(payee)
    network.node.hold_receipts = True  # consensus reached, the receipt not yet readable
    kill_after_consensus(pay_in_child(db_url, network), network)
    [(tx_id, status)] = stored(sessions)
    assert status == TX_PENDING  # stored before submission, outcome unknown at the kill
    assert network.node.executed()[0].transaction_id == tx_id

    network.node.hold_receipts = False
    if receipts == "expired":
        network.node.forget_receipts()  # only the mirror node can tell now
    rerun = pay_in_child(db_url, network)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert sorted(
        line.split()[1] for line in out.splitlines() if line.startswith("paid")
    ) == sorted(o.idempotency_key for o in ORDERS)
    assert {line.split()[2] for line in out.splitlines() if line.startswith("paid")} == {tx_id}
    assert stored(sessions) == [(tx_id, TX_SUCCESS)]
    assert_paid_exactly_once(network)


def test_stored_but_never_sent_is_sent_as_stored(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]]
) -> None:
    _, sessions = hedera_db
    for payee in PAYEES:
        network.add_payee(payee)
    ledger = HederaLedger(network.settings(), sessions)
    try:
        tx_id = _store_unsent(ledger, sessions, datetime.now(UTC) + timedelta(seconds=120))
        result = ledger.transfer_batch(OPERATOR, ORDERS, batch_key="epoch:9:batch:1", memo="m")
    finally:
        ledger.close()
    assert result.failed == {}
    assert {r.transaction_id for r in result.paid.values()} == {tx_id}
    assert stored(sessions) == [(tx_id, TX_SUCCESS)]
    assert_paid_exactly_once(network)


def test_expired_unseen_goes_again_in_a_new_transaction(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]]
) -> None:
    _, sessions = hedera_db
    for payee in PAYEES:
        network.add_payee(payee)
    ledger = HederaLedger(network.settings(mirror_lag_s=0), sessions)
    try:
        old = _store_unsent(ledger, sessions, datetime.now(UTC) - timedelta(seconds=1))
        result = ledger.transfer_batch(OPERATOR, ORDERS, batch_key="epoch:9:batch:1", memo="m")
    finally:
        ledger.close()
    assert result.failed == {}
    [(first, s1), (second, s2)] = stored(sessions)
    assert (first, s1, s2) == (old, TX_EXPIRED, TX_SUCCESS)
    assert {r.transaction_id for r in result.paid.values()} == {second}
    assert old not in network.node.submissions  # the expired bytes were never sent
    assert_paid_exactly_once(network)


def _store_unsent(
    ledger: HederaLedger, sessions: sessionmaker[Session], valid_until: datetime
) -> str:
    """What a payer killed right after storing its transaction leaves behind."""
    ledger._register(OPERATOR, ORDERS)
    signed = build_transfer(
        ledger.client, ledger.operator.key, ledger.settings, OPERATOR, ORDERS, "m"
    )
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add(
            HederaTransaction(
                transaction_id=signed.transaction_id,
                batch_key="epoch:9:batch:1",
                payment_keys=json.dumps([o.idempotency_key for o in ORDERS]),
                memo="m",
                signed_bytes=signed.signed_bytes,
                status=TX_PENDING,
                valid_until=valid_until,
                created_at=now,
                updated_at=now,
            )
        )
    return signed.transaction_id
