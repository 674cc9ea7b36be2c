"""HTS token payouts check association first; the operator key never leaks."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from epochs.scores import miner
from tensornode.config import RewardsSettings
from tensornode.db.models import Base
from tensornode.epochs.models import Epoch, EpochReportRow
from tensornode.epochs.service import EpochInputs, EpochService
from tensornode.errors import ConfigurationError
from tensornode.ledger.base import TransferOrder
from tensornode.ledger.hedera.ledger import HederaLedger
from tensornode.ledger.hedera.operator import load_operator

from .hedera_network import OPERATOR, Network

TOKEN = "0.0.7000"


def test_token_payees_without_association_are_reported_and_paid_once_they_associate(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]]
) -> None:
    network.node.add_token(TOKEN, OPERATOR, 1_000_000)
    for payee in ("0.0.2001", "0.0.2002", "0.0.2003"):
        network.add_payee(payee)
    network.node.associate("0.0.2001", TOKEN)
    network.node.associate("0.0.2003", TOKEN)
    orders = [TransferOrder(p, 10, f"k{p}") for p in ("0.0.2001", "0.0.2002", "0.0.2003")]
    ledger = HederaLedger(network.settings(currency=TOKEN), hedera_db[1])
    try:
        first = ledger.transfer_batch(OPERATOR, orders, batch_key="b", memo="m")
        assert sorted(first.paid) == ["k0.0.2001", "k0.0.2003"]
        assert first.failed == {
            "k0.0.2002": "0.0.2002 is not associated with token 0.0.7000: it cannot receive "
            "the payout until it associates"
        }
        network.node.associate("0.0.2002", TOKEN)
        second = ledger.transfer_batch(OPERATOR, orders, batch_key="b", memo="m")
        assert second.failed == {}
        assert [ledger.balance(p) for p in ("0.0.2001", "0.0.2002", "0.0.2003")] == [10, 10, 10]
        assert ledger.balance(OPERATOR) == 1_000_000 - 30
    finally:
        ledger.close()
    assert [sorted(r.token_transfers) for r in network.node.executed()] == [
        [(TOKEN, OPERATOR, -20), (TOKEN, "0.0.2001", 10), (TOKEN, "0.0.2003", 10)],
        [(TOKEN, OPERATOR, -10), (TOKEN, "0.0.2002", 10)],
    ]


def test_the_key_file_must_be_private(network: Network, tmp_path: Path) -> None:
    key_file = tmp_path / "operator.key"
    key_file.write_text(network.operator_key.to_string_der())
    os.chmod(key_file, 0o644)
    settings = network.settings(operator_key=None, operator_key_file=key_file)
    with pytest.raises(ConfigurationError, match=r"open to others \(mode 0644\): chmod 600"):
        load_operator(settings)
    os.chmod(key_file, 0o600)
    assert load_operator(settings).public_key_hex() == (
        network.operator_key.public_key().to_bytes_raw().hex()
    )


def test_the_key_is_in_no_log_error_or_repr(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]], caplog: pytest.LogCaptureFixture
) -> None:
    secret_forms = [network.operator_key.to_string_der(), network.operator_key.to_string_raw()]
    caplog.set_level(logging.DEBUG)
    network.add_payee("0.0.2001")
    network.node.busy = 1
    settings = network.settings()
    ledger = HederaLedger(settings, hedera_db[1])
    try:
        ledger.transfer_batch(
            OPERATOR, [TransferOrder("0.0.2001", 5, "k")], batch_key="b", memo="m"
        )
        ledger.transfer_batch(
            OPERATOR, [TransferOrder("0.0.9999", 5, "k2")], batch_key="c", memo="m"
        )
        seen = caplog.text + repr(ledger.operator) + repr(settings) + str(settings.model_dump())
    finally:
        ledger.close()
    bad = network.settings(operator_key=SecretStr("not-a-key-" + secret_forms[1]))
    with pytest.raises(ConfigurationError) as refused:
        load_operator(bad)
    seen += str(refused.value) + repr(refused.value)
    assert "INVALID_ACCOUNT_ID" in caplog.text  # the failure was logged, the key was not
    for secret in secret_forms:
        assert secret not in seen


def test_an_epoch_leaves_out_token_payees_that_cannot_receive_instead_of_stalling(
    network: Network, hedera_db: tuple[str, sessionmaker[Session]]
) -> None:
    network.node.add_token(TOKEN, OPERATOR, 10_000_000)
    for payee in ("0.0.1001", "0.0.2001", "0.0.2002"):
        network.add_payee(payee)
    network.node.associate("0.0.1001", TOKEN)  # the treasury
    network.node.associate("0.0.2001", TOKEN)  # 0.0.2002 never associates
    _, sessions = hedera_db
    epoch_tables = [EpochReportRow.__table__, Epoch.__table__]
    Base.metadata.drop_all(sessions.kw["bind"], tables=epoch_tables)  # another test's epochs
    Base.metadata.create_all(sessions.kw["bind"], tables=epoch_tables)
    rewards = RewardsSettings(
        emission_per_epoch=1_000,
        validators_percent=0,
        miners_percent=90,
        pool_account=OPERATOR,
        treasury_account="0.0.1001",
        epoch_seconds=600,
    )
    inputs = EpochInputs([miner("m1", "0.0.2001", 0.5), miner("m2", "0.0.2002", 0.5)], [])
    ledger = HederaLedger(network.settings(currency=TOKEN), sessions)
    try:
        [report] = EpochService(sessions, ledger, rewards, lambda w: inputs).settle_due(
            datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)
        )
    finally:
        ledger.close()
    assert [m.account for m in report.miners] == ["0.0.2001"]
    assert {(p.account, p.amount) for p in report.payouts} == {("0.0.2001", 900), ("0.0.1001", 100)}
    assert network.node.accounts["0.0.2002"].tokens == {}
