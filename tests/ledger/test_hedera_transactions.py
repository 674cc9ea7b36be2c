"""Offline: every transaction built, frozen, signed, serialised and parsed back (no node)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hiero_sdk_python.crypto.private_key import PrivateKey
from hiero_sdk_python.transaction.transaction import Transaction
from pydantic import SecretStr

from tensornode.config import HederaSettings
from tensornode.ledger.base import TransferOrder
from tensornode.ledger.hedera.network import build_client, close_client
from tensornode.ledger.hedera.operator import Operator
from tensornode.ledger.hedera.transactions import (
    build_topic_message,
    build_transfer,
    parse_transaction,
)

OPERATOR = "0.0.1000"
ORDERS = [TransferOrder("0.0.2001", 7, "a"), TransferOrder("0.0.2002", 11, "b")]


@pytest.fixture
def signing() -> Iterator[tuple[Any, Any, HederaSettings]]:
    key = PrivateKey.generate_ed25519()
    settings = HederaSettings(
        network="custom",
        nodes={"127.0.0.1:9": "0.0.3"},
        mirror_url="http://127.0.0.1:9",
        operator_id=OPERATOR,
        operator_key=SecretStr(key.to_string_der()),
    )
    client = build_client(settings, Operator(OPERATOR, key))
    yield client, key, settings
    close_client(client)


def test_an_hbar_transfer_round_trips(signing: tuple[Any, Any, HederaSettings]) -> None:
    client, key, settings = signing
    signed = build_transfer(client, key, settings, OPERATOR, ORDERS, "tensornode epoch 3 batch 1/1")
    parsed = parse_transaction(signed.signed_bytes)
    assert parsed.kind == "cryptoTransfer"
    assert parsed.transaction_id == signed.transaction_id
    assert parsed.transaction_id.startswith(f"{OPERATOR}@")
    assert parsed.memo == "tensornode epoch 3 batch 1/1"
    assert parsed.transfers == {OPERATOR: -18, "0.0.2001": 7, "0.0.2002": 11}
    assert parsed.token_transfers == {}
    assert parsed.signers == {key.public_key().to_bytes_raw().hex()}
    assert parsed.max_fee == settings.max_transaction_fee
    # the SDK reads the same bytes back, signature and all
    again = Transaction.from_bytes(signed.signed_bytes)
    assert again.is_signed_by(key.public_key())
    assert parse_transaction(again.to_bytes()) == parsed


def test_a_token_transfer_round_trips(signing: tuple[Any, Any, HederaSettings]) -> None:
    client, key, settings = signing
    token = settings.model_copy(update={"currency": "0.0.7000"})
    parsed = parse_transaction(
        build_transfer(client, key, token, OPERATOR, ORDERS, "m").signed_bytes
    )
    assert parsed.transfers == {}
    assert parsed.token_transfers == {"0.0.7000": {OPERATOR: -18, "0.0.2001": 7, "0.0.2002": 11}}


def test_a_topic_message_round_trips_and_a_tampered_signature_does_not_verify(
    signing: tuple[Any, Any, HederaSettings],
) -> None:
    client, key, settings = signing
    signed = build_topic_message(client, key, settings, "0.0.5000", b'{"kind":"epoch"}')
    parsed = parse_transaction(signed.signed_bytes)
    assert (parsed.kind, parsed.signers) == (
        "consensusSubmitMessage",
        {key.public_key().to_bytes_raw().hex()},
    )
    other = PrivateKey.generate_ed25519()
    forged = Transaction.from_bytes(signed.signed_bytes)
    forged.sign(other)
    assert parse_transaction(forged.to_bytes()).signers == {
        key.public_key().to_bytes_raw().hex(),
        other.public_key().to_bytes_raw().hex(),
    }
    body_changed = bytearray(signed.signed_bytes)
    body_changed[body_changed.index(b'"epoch"') + 1] ^= 0x01  # one bit of the message
    assert parse_transaction(bytes(body_changed)).signers == set()
