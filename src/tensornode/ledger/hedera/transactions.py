"""Hedera transactions, built, frozen and signed by the operator, and parsed back.

A payout batch is one ``CryptoTransfer``: the source's debit and one credit per order
(HBAR, or an HTS token's transfer list), the memo naming the epoch and batch. Its
transaction id (payer = operator, valid start = now) is chosen here, so it can be stored
with the signed bytes before anything is sent. :func:`parse_transaction` reads signed
bytes back (the checks in the tests and the fake node use it): body, memo, transfers,
and which public keys validly signed the body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tensornode.config import HederaSettings
from tensornode.ledger.base import TransferOrder

HBAR = "HBAR"


@dataclass(frozen=True)
class SignedTransaction:
    """A frozen, signed transaction: its id (``0.0.2@1700000000.000000001``) and bytes."""

    transaction_id: str
    signed_bytes: bytes


@dataclass(frozen=True)
class ParsedTransaction:
    """What signed bytes say: who pays, the memo, what moves, who signed."""

    transaction_id: str
    node_account_id: str
    memo: str
    kind: str  # the body's field: cryptoTransfer, consensusSubmitMessage, ...
    transfers: dict[str, int]  # account -> signed amount (HBAR)
    token_transfers: dict[str, dict[str, int]]  # token -> account -> signed amount
    signers: frozenset[str]  # hex public keys whose signatures verify over the body
    max_fee: int
    valid_duration_s: int


def _account(text: str) -> Any:
    from hiero_sdk_python.account.account_id import AccountId

    return AccountId.from_string(text)


def _freeze_and_sign(tx: Any, client: Any, operator_key: Any, settings: HederaSettings) -> Any:
    from hiero_sdk_python.hbar import Hbar
    from hiero_sdk_python.transaction.transaction_id import TransactionId

    tx.set_transaction_id(TransactionId.generate(client.operator_account_id))
    tx.transaction_fee = Hbar.from_tinybars(settings.max_transaction_fee)
    tx.set_transaction_valid_duration(settings.valid_duration_s)
    tx.freeze_with(client)
    tx.sign(operator_key)
    return tx


def build_transfer(
    client: Any,
    operator_key: Any,
    settings: HederaSettings,
    source: str,
    orders: Sequence[TransferOrder],
    memo: str,
) -> SignedTransaction:
    """One CryptoTransfer paying every order from ``source`` in the configured currency."""
    from hiero_sdk_python.tokens.token_id import TokenId
    from hiero_sdk_python.transaction.transfer_transaction import TransferTransaction

    total = sum(order.amount for order in orders)
    tx = TransferTransaction().set_transaction_memo(memo)
    if settings.currency == HBAR:
        tx.add_hbar_transfer(_account(source), -total)
        for order in orders:
            tx.add_hbar_transfer(_account(order.destination), order.amount)
    else:
        token = TokenId.from_string(settings.currency)
        tx.add_token_transfer(token, _account(source), -total)
        for order in orders:
            tx.add_token_transfer(token, _account(order.destination), order.amount)
    tx = _freeze_and_sign(tx, client, operator_key, settings)
    return SignedTransaction(_text_id(tx), bytes(tx.to_bytes()))


def build_topic_message(
    client: Any, operator_key: Any, settings: HederaSettings, topic_id: str, message: bytes
) -> SignedTransaction:
    """One ConsensusSubmitMessage of ``message`` (at most one 1 KB chunk) to ``topic_id``."""
    from hiero_sdk_python.consensus.topic_id import TopicId
    from hiero_sdk_python.consensus.topic_message_submit_transaction import (
        TopicMessageSubmitTransaction,
    )

    tx = TopicMessageSubmitTransaction(TopicId.from_string(topic_id), message, max_chunks=1)
    tx = _freeze_and_sign(tx, client, operator_key, settings)
    return SignedTransaction(_text_id(tx), bytes(tx.to_bytes()))


def _text_id(tx: Any) -> str:
    # the SDK's str() leaves the nanoseconds unpadded (…@17.5 for 17.000000005): ours pads
    return transaction_id_text(tx.transaction_id._to_proto())


def _verified_signers(body: bytes, sig_map: Any) -> frozenset[str]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signers = set()
    for pair in sig_map.sigPair:
        if pair.WhichOneof("signature") != "ed25519" or len(pair.pubKeyPrefix) != 32:
            continue  # only full ED25519 keys can be checked without the account's key
        try:
            Ed25519PublicKey.from_public_bytes(pair.pubKeyPrefix).verify(pair.ed25519, body)
        except InvalidSignature:
            continue
        signers.add(pair.pubKeyPrefix.hex())
    return frozenset(signers)


def _id(entity: Any) -> str:
    return f"{entity.shardNum}.{entity.realmNum}.{entity.accountNum}"


def transaction_id_text(tid: Any) -> str:
    """``0.0.2@1700000000.000000001`` from a protobuf ``TransactionID``."""
    start = tid.transactionValidStart
    return f"{_id(tid.accountID)}@{start.seconds}.{start.nanos:09d}"


def parse_transaction(signed_bytes: bytes) -> ParsedTransaction:
    """Read a serialised transaction (a TransactionList or a single Transaction)."""
    from hiero_sdk_python.hapi.sdk.transaction_list_pb2 import TransactionList
    from hiero_sdk_python.hapi.services import transaction_contents_pb2, transaction_pb2

    listed = TransactionList.FromString(signed_bytes).transaction_list
    first = listed[0] if listed else transaction_pb2.Transaction.FromString(signed_bytes)
    signed = transaction_contents_pb2.SignedTransaction.FromString(first.signedTransactionBytes)
    body = transaction_pb2.TransactionBody.FromString(signed.bodyBytes)
    kind = body.WhichOneof("data") or ""
    transfers: dict[str, int] = {}
    tokens: dict[str, dict[str, int]] = {}
    if kind == "cryptoTransfer":
        for amount in body.cryptoTransfer.transfers.accountAmounts:
            transfers[_id(amount.accountID)] = amount.amount
        for token_list in body.cryptoTransfer.tokenTransfers:
            t = token_list.token
            token = f"{t.shardNum}.{t.realmNum}.{t.tokenNum}"
            tokens[token] = {_id(a.accountID): a.amount for a in token_list.transfers}
    return ParsedTransaction(
        transaction_id=transaction_id_text(body.transactionID),
        node_account_id=_id(body.nodeAccountID),
        memo=body.memo,
        kind=kind,
        transfers=transfers,
        token_transfers=tokens,
        signers=_verified_signers(signed.bodyBytes, signed.sigMap),
        max_fee=body.transactionFee,
        valid_duration_s=body.transactionValidDuration.seconds,
    )
