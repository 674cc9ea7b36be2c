"""A fake Hedera consensus node: real gRPC on loopback, the SDK's own service definitions.

It serves what the ledger and the score log call (``CryptoService.cryptoTransfer``,
``getTransactionReceipts``, ``ConsensusService.createTopic`` and ``submitMessage``) and
behaves as a node does, as documented: it parses the signed transaction, answers a
precheck code (``INVALID_SIGNATURE`` unless the payer's ED25519 key signed the body,
``DUPLICATE_TRANSACTION`` for a transaction id seen before, ``TRANSACTION_EXPIRED``
outside the valid window, ``INVALID_NODE_ACCOUNT``, ``INSUFFICIENT_PAYER_BALANCE``),
then reaches "consensus" at once: it charges the fee, applies the transfers to its own
balances (``TRANSFER_LIST_SIZE_LIMIT_EXCEEDED`` over 10 amounts,
``ACCOUNT_REPEATED_IN_ACCOUNT_AMOUNTS``, ``INSUFFICIENT_ACCOUNT_BALANCE``,
``TOKEN_NOT_ASSOCIATED_TO_ACCOUNT``), records HCS messages with sequence numbers and
running hashes (``INVALID_SIGNATURE`` unless the topic's submit key signed), and keeps a
record per transaction that the fake mirror node serves.

Test controls: ``busy`` (answer BUSY to the next n submissions), ``hold_receipts``
(receipts say UNKNOWN, as before consensus: a payer waits there to be killed),
``forget_receipts()`` (receipts expire, as they do after 3 minutes on Hedera).
"""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hiero_sdk_python.hapi.services import (
    basic_types_pb2,
    consensus_service_pb2_grpc,
    crypto_service_pb2_grpc,
    response_header_pb2,
    response_pb2,
    transaction_contents_pb2,
    transaction_get_receipt_pb2,
    transaction_pb2,
    transaction_receipt_pb2,
    transaction_response_pb2,
)
from hiero_sdk_python.response_code import ResponseCode

from tensornode.ledger.hedera.transactions import transaction_id_text

NODE_ACCOUNT = "0.0.3"
FEE_COLLECTOR = "0.0.98"
MAX_TRANSFERS = 10


class Refused(Exception):
    def __init__(self, code: ResponseCode) -> None:
        super().__init__(code.name)
        self.code = code


@dataclass
class Account:
    public_key: bytes  # raw ED25519
    balance: int = 0
    tokens: dict[str, int] = field(default_factory=dict)  # associated tokens -> balance


@dataclass
class Topic:
    submit_keys: list[bytes]
    threshold: int  # how many of them must sign a message
    memo: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    running_hash: bytes = b"\0" * 48


@dataclass
class Record:
    """What happened to one transaction at consensus (served by the fake mirror node)."""

    transaction_id: str
    name: str
    status: ResponseCode
    consensus_ns: int
    payer: str
    memo: str
    transfers: list[tuple[str, int]]
    token_transfers: list[tuple[str, str, int]]
    fee: int
    receipt: transaction_receipt_pb2.TransactionReceipt


def _id(entity: Any) -> str:
    return f"{entity.shardNum}.{entity.realmNum}.{entity.accountNum}"


def _verify(signatures: dict[bytes, bytes], key: bytes, body: bytes) -> bool:
    signature = signatures.get(key)
    if signature is None:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, body)
    except InvalidSignature:
        return False
    return True


class FakeHederaNode:
    """One consensus node (``0.0.3``) holding the whole ledger in memory."""

    def __init__(self, fee: int = 100_000) -> None:
        self.fee = fee
        self.accounts: dict[str, Account] = {FEE_COLLECTOR: Account(b"")}
        self.topics: dict[str, Topic] = {}
        self.records: dict[str, Record] = {}
        self.busy = 0
        self.hold_receipts = False
        self.submissions: list[str] = []  # transaction ids, every attempt
        self._forgotten: set[str] = set()
        self._next_entity = 5000
        self._last_ns = 0
        self._lock = threading.RLock()
        self._server: grpc.Server | None = None
        self.address = ""

    # -- state set up by tests ------------------------------------------------------

    def add_account(self, account: str, public_key: bytes, balance: int = 0) -> None:
        self.accounts[account] = Account(public_key, balance)

    def add_token(self, token: str, treasury: str, supply: int) -> None:
        self.accounts[treasury].tokens[token] = supply

    def associate(self, account: str, token: str) -> None:
        self.accounts[account].tokens.setdefault(token, 0)

    def forget_receipts(self) -> None:
        with self._lock:
            self._forgotten |= set(self.records)

    def executed(self, name: str = "CRYPTOTRANSFER") -> list[Record]:
        with self._lock:
            return [r for r in self.records.values() if r.name == name]

    # -- serving -----------------------------------------------------------------------

    def start(self) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        crypto_service_pb2_grpc.add_CryptoServiceServicer_to_server(_Crypto(self), server)
        consensus_service_pb2_grpc.add_ConsensusServiceServicer_to_server(_Consensus(self), server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait()

    # -- transactions ------------------------------------------------------------------

    def submit(self, request: transaction_pb2.Transaction, name: str) -> Any:
        signed = transaction_contents_pb2.SignedTransaction.FromString(
            request.signedTransactionBytes
        )
        body = transaction_pb2.TransactionBody.FromString(signed.bodyBytes)
        signatures = {p.pubKeyPrefix: p.ed25519 for p in signed.sigMap.sigPair}
        tid = transaction_id_text(body.transactionID)
        with self._lock:
            self.submissions.append(tid)
            try:
                self._precheck(body, tid, signatures, signed.bodyBytes)
            except Refused as refused:
                return transaction_response_pb2.TransactionResponse(
                    nodeTransactionPrecheckCode=refused.code
                )
            self._consensus(body, tid, signatures, signed.bodyBytes, name)
        return transaction_response_pb2.TransactionResponse(
            nodeTransactionPrecheckCode=ResponseCode.OK
        )

    def _precheck(
        self, body: Any, tid: str, signatures: dict[bytes, bytes], body_bytes: bytes
    ) -> None:
        if self.busy > 0:
            self.busy -= 1
            raise Refused(ResponseCode.BUSY)
        if _id(body.nodeAccountID) != NODE_ACCOUNT:
            raise Refused(ResponseCode.INVALID_NODE_ACCOUNT)
        start = body.transactionID.transactionValidStart
        start_s = start.seconds + start.nanos / 1e9
        if not 15 <= body.transactionValidDuration.seconds <= 180:
            raise Refused(ResponseCode.INVALID_TRANSACTION_DURATION)
        if start_s > time.time() + 10:
            raise Refused(ResponseCode.INVALID_TRANSACTION_START)
        if time.time() > start_s + body.transactionValidDuration.seconds:
            raise Refused(ResponseCode.TRANSACTION_EXPIRED)
        if len(body.memo.encode()) > 100:
            raise Refused(ResponseCode.MEMO_TOO_LONG)
        if tid in self.records:
            raise Refused(ResponseCode.DUPLICATE_TRANSACTION)
        payer = self.accounts.get(_id(body.transactionID.accountID))
        if payer is None:
            raise Refused(ResponseCode.PAYER_ACCOUNT_NOT_FOUND)
        if not _verify(signatures, payer.public_key, body_bytes):
            raise Refused(ResponseCode.INVALID_SIGNATURE)
        if body.transactionFee < self.fee:
            raise Refused(ResponseCode.INSUFFICIENT_TX_FEE)
        if payer.balance < self.fee:
            raise Refused(ResponseCode.INSUFFICIENT_PAYER_BALANCE)

    def _consensus(
        self, body: Any, tid: str, signatures: dict[bytes, bytes], body_bytes: bytes, name: str
    ) -> None:
        self._last_ns = max(time.time_ns(), self._last_ns + 1)
        payer = _id(body.transactionID.accountID)
        self.accounts[payer].balance -= self.fee
        self.accounts[FEE_COLLECTOR].balance += self.fee
        receipt = transaction_receipt_pb2.TransactionReceipt()
        record = Record(
            tid,
            name,
            ResponseCode.SUCCESS,
            self._last_ns,
            payer,
            body.memo,
            [],
            [],
            self.fee,
            receipt,
        )
        try:
            if name == "CRYPTOTRANSFER":
                self._transfer(body.cryptoTransfer, signatures, body_bytes, record)
            elif name == "CONSENSUSCREATETOPIC":
                self._create_topic(body.consensusCreateTopic, receipt)
            else:
                self._submit_message(body.consensusSubmitMessage, signatures, body_bytes, record)
        except Refused as refused:
            record.status = refused.code
        receipt.status = record.status
        self.records[tid] = record

    def _transfer(
        self, transfer: Any, signatures: dict[bytes, bytes], body_bytes: bytes, record: Record
    ) -> None:
        hbar = [(_id(a.accountID), a.amount) for a in transfer.transfers.accountAmounts]
        tokens = [
            (f"0.0.{t.token.tokenNum}", _id(a.accountID), a.amount)
            for t in transfer.tokenTransfers
            for a in t.transfers
        ]
        for moves in ([(None, a, n) for a, n in hbar], tokens):
            if len(moves) > MAX_TRANSFERS:
                raise Refused(ResponseCode.TRANSFER_LIST_SIZE_LIMIT_EXCEEDED)
            if len({(t, a) for t, a, _ in moves}) != len(moves):
                raise Refused(ResponseCode.ACCOUNT_REPEATED_IN_ACCOUNT_AMOUNTS)
            if sum(n for _, _, n in moves) != 0:
                raise Refused(ResponseCode.INVALID_ACCOUNT_AMOUNTS)
        for token, account, amount in [(None, a, n) for a, n in hbar] + tokens:
            holder = self.accounts.get(account)
            if holder is None:
                raise Refused(ResponseCode.INVALID_ACCOUNT_ID)
            if amount < 0 and not _verify(signatures, holder.public_key, body_bytes):
                raise Refused(ResponseCode.INVALID_SIGNATURE)
            if token is not None and token not in holder.tokens:
                raise Refused(ResponseCode.TOKEN_NOT_ASSOCIATED_TO_ACCOUNT)
            held = holder.balance if token is None else holder.tokens[token]
            if held + amount < 0:
                raise Refused(
                    ResponseCode.INSUFFICIENT_ACCOUNT_BALANCE
                    if token is None
                    else ResponseCode.INSUFFICIENT_TOKEN_BALANCE
                )
        for account, amount in hbar:
            self.accounts[account].balance += amount
        for token, account, amount in tokens:
            self.accounts[account].tokens[token] += amount
        record.transfers, record.token_transfers = hbar, tokens

    def _create_topic(self, create: Any, receipt: Any) -> None:
        key = create.submitKey
        which = key.WhichOneof("key")
        if which == "thresholdKey":
            keys = [k.ed25519 for k in key.thresholdKey.keys.keys]
            threshold = key.thresholdKey.threshold
        elif which == "keyList":  # every key of a plain list must sign
            keys = [k.ed25519 for k in key.keyList.keys]
            threshold = len(keys)
        else:
            keys, threshold = ([key.ed25519] if which else []), (1 if which else 0)
        number = self._next_entity
        self._next_entity += 1
        self.topics[f"0.0.{number}"] = Topic(keys, threshold, create.memo)
        receipt.topicID.CopyFrom(basic_types_pb2.TopicID(topicNum=number))

    def _submit_message(
        self, submit: Any, signatures: dict[bytes, bytes], body_bytes: bytes, record: Record
    ) -> None:
        topic_id = f"0.0.{submit.topicID.topicNum}"
        topic = self.topics.get(topic_id)
        if topic is None:
            raise Refused(ResponseCode.INVALID_TOPIC_ID)
        signed = sum(_verify(signatures, key, body_bytes) for key in topic.submit_keys)
        if signed < topic.threshold:
            raise Refused(ResponseCode.INVALID_SIGNATURE)
        if len(submit.message) > 1024:
            raise Refused(ResponseCode.MESSAGE_SIZE_TOO_LARGE)
        sequence = len(topic.messages) + 1
        topic.running_hash = hashlib.sha384(
            topic.running_hash
            + topic_id.encode()
            + str(record.consensus_ns).encode()
            + sequence.to_bytes(8, "big")
            + hashlib.sha384(submit.message).digest()
        ).digest()
        topic.messages.append(
            {
                "sequence_number": sequence,
                "consensus_ns": record.consensus_ns,
                "message": bytes(submit.message),
                "payer": record.payer,
                "running_hash": topic.running_hash,
            }
        )
        record.receipt.topicSequenceNumber = sequence
        record.receipt.topicRunningHash = topic.running_hash
        record.receipt.topicRunningHashVersion = 3

    # -- queries -----------------------------------------------------------------------

    def receipt(self, query: Any) -> response_pb2.Response:
        tid = transaction_id_text(query.transactionGetReceipt.transactionID)
        with self._lock:
            record = self.records.get(tid)
            if record is None or tid in self._forgotten:
                code, receipt = ResponseCode.RECEIPT_NOT_FOUND, None
            elif self.hold_receipts:
                code = ResponseCode.OK
                receipt = transaction_receipt_pb2.TransactionReceipt(status=ResponseCode.UNKNOWN)
            else:
                code, receipt = ResponseCode.OK, record.receipt
        answer = transaction_get_receipt_pb2.TransactionGetReceiptResponse(
            header=response_header_pb2.ResponseHeader(nodeTransactionPrecheckCode=code),
            receipt=receipt,
        )
        return response_pb2.Response(transactionGetReceipt=answer)


class _Crypto(crypto_service_pb2_grpc.CryptoServiceServicer):  # type: ignore[misc]
    def __init__(self, node: FakeHederaNode) -> None:
        self.node = node

    def cryptoTransfer(self, request: Any, context: Any) -> Any:
        return self.node.submit(request, "CRYPTOTRANSFER")

    def getTransactionReceipts(self, request: Any, context: Any) -> Any:
        return self.node.receipt(request)


class _Consensus(consensus_service_pb2_grpc.ConsensusServiceServicer):  # type: ignore[misc]
    def __init__(self, node: FakeHederaNode) -> None:
        self.node = node

    def createTopic(self, request: Any, context: Any) -> Any:
        return self.node.submit(request, "CONSENSUSCREATETOPIC")

    def submitMessage(self, request: Any, context: Any) -> Any:
        return self.node.submit(request, "CONSENSUSSUBMITMESSAGE")
