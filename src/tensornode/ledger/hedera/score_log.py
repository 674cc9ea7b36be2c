"""The public score log: a Hedera Consensus Service topic per network.

``tensornode hedera init`` creates the topic with a submit key that is a 1-of-N
threshold key over the coordinator's and the validators' keys, so only they can write.
Two kinds of message, each canonical JSON well inside one 1 KB chunk:

- ``epoch``: a settled epoch's report hash, the previous report's hash (and epoch), the
  payout root (a sha256 Merkle root over its payouts and their transaction ids), the
  payout count, and where the full report is;
- ``validator``: a validator saying it ran ``rounds`` rounds in an epoch. It counts only
  when the validator's own account paid for it (its key signed it), so the coordinator
  cannot invent validators; validator shares go only to validators who registered.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from tensornode.config import HEDERA_ACCOUNT_PATTERN, HederaSettings
from tensornode.epochs.clock import epoch_at
from tensornode.epochs.report import SHA256_PATTERN, EpochReport, PayoutRecord, canonical_json
from tensornode.errors import ConfigurationError, LedgerError
from tensornode.ledger.hedera.mirror import MirrorNode, TopicMessage
from tensornode.ledger.hedera.network import build_client, close_client, sdk_errors
from tensornode.ledger.hedera.operator import Operator

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024  # one HCS chunk

Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
Account = Annotated[str, Field(pattern=HEDERA_ACCOUNT_PATTERN)]


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EpochMessage(_Message):
    """A settled epoch, as published on the topic."""

    kind: Literal["epoch"] = "epoch"
    v: Literal[1] = 1
    epoch: int = Field(ge=0)
    report: Sha256
    previous: Sha256 | None
    previous_epoch: int | None = Field(ge=0)
    payout_root: Sha256
    payouts: int = Field(ge=0)
    url: str | None = Field(None, max_length=300)


class ValidatorMessage(_Message):
    """A validator's claim to have run rounds in an epoch (valid when it paid for it)."""

    kind: Literal["validator"] = "validator"
    v: Literal[1] = 1
    epoch: int = Field(ge=0)
    validator: Account
    rounds: int = Field(ge=1)


ScoreLogMessage = Annotated[EpochMessage | ValidatorMessage, Field(discriminator="kind")]
_MESSAGE: TypeAdapter[EpochMessage | ValidatorMessage] = TypeAdapter(ScoreLogMessage)


def encode(message: EpochMessage | ValidatorMessage) -> bytes:
    data = canonical_json(message.model_dump(mode="json"))
    if len(data) > MAX_MESSAGE_BYTES:
        raise LedgerError(f"a score log message must fit one chunk: {len(data)} bytes")
    return data


def decode(message: TopicMessage) -> EpochMessage | ValidatorMessage | None:
    """The message, or None for one that is not ours (anything may be on a topic)."""
    try:
        return _MESSAGE.validate_json(message.message)
    except ValidationError:
        return None


def _leaf(payout: PayoutRecord) -> bytes:
    fields = {
        "account": payout.account,
        "kind": payout.kind,
        "amount": payout.amount,
        "transaction_id": payout.transaction_id,
    }
    return hashlib.sha256(b"\x00" + canonical_json(fields)).digest()


def payout_root(payouts: Sequence[PayoutRecord]) -> str:
    """The sha256 Merkle root of the payouts (sorted by account and kind, each leaf the
    canonical JSON of account, kind, amount and transaction id; an odd node goes up as is)."""
    level = [_leaf(p) for p in sorted(payouts, key=lambda p: (p.account, p.kind))]
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        level = [
            hashlib.sha256(b"\x01" + pair[0] + pair[1]).digest() if len(pair) == 2 else pair[0]
            for pair in pairs
        ]
    return level[0].hex()


def epoch_message(report: EpochReport, report_url: str | None) -> EpochMessage:
    """The message publishing a sealed report."""
    url = None if report_url is None else f"{report_url.rstrip('/')}/epochs/{report.epoch}"
    return EpochMessage(
        epoch=report.epoch,
        report=report.hash,
        previous=report.previous_hash,
        previous_epoch=report.previous_epoch,
        payout_root=payout_root(report.payouts),
        payouts=len(report.payouts),
        url=url,
    )


def validators_registered(messages: Sequence[TopicMessage], epoch: int) -> set[str]:
    """The validators that registered for ``epoch``, each with a message it paid for."""
    found = set()
    for raw in messages:
        parsed = decode(raw)
        if (
            isinstance(parsed, ValidatorMessage)
            and parsed.epoch == epoch
            and raw.payer_account_id == parsed.validator
        ):
            found.add(parsed.validator)
    return found


class ScoreLog:
    """Writes to and reads the network's topic (the operator signs what it writes)."""

    def __init__(self, settings: HederaSettings, operator: Operator, mirror: MirrorNode) -> None:
        self.settings = settings
        self.operator = operator
        self.mirror = mirror
        self.client = build_client(settings, operator)

    def close(self) -> None:
        close_client(self.client)
        self.mirror.close()

    @property
    def topic_id(self) -> str:
        if self.settings.topic_id is None:
            raise ConfigurationError(
                "no score log topic: run `tensornode hedera init` and set "
                "TENSORNODE_HEDERA__TOPIC_ID"
            )
        return self.settings.topic_id

    def create_topic(self, submit_keys: Sequence[tuple[str, str]], memo: str) -> str:
        """A new topic that the operator or any one of ``submit_keys`` can write to
        (each ``(type, hex)`` as the mirror node shows keys: ``ED25519`` or
        ``ECDSA_SECP256K1``)."""
        from hiero_sdk_python.consensus.topic_create_transaction import TopicCreateTransaction
        from hiero_sdk_python.crypto.key_list import KeyList

        keys = [self.operator.key.public_key()] + [public_key(*key) for key in submit_keys]
        tx = (
            TopicCreateTransaction()
            .set_memo(memo)
            .set_submit_key(KeyList(keys, threshold=1))
            .set_admin_key(self.operator.key.public_key())
        )
        with sdk_errors("creating the score log topic"):
            receipt = tx.freeze_with(self.client).sign(self.operator.key).execute(self.client)
            self._check(receipt, "creating the score log topic")
            return str(receipt.topic_id)

    def messages(self) -> list[TopicMessage]:
        return self.mirror.topic_messages(self.topic_id)

    def registered_validators(self, epoch: int) -> set[str]:
        """The validators that registered themselves for ``epoch`` on the topic."""
        return validators_registered(self.messages(), epoch)

    def publish_epoch(self, report: EpochReport) -> EpochMessage:
        """Publish a sealed report once: a message already on the topic is not sent again."""
        message = epoch_message(report, self.settings.report_url)
        for raw in self.messages():
            if decode(raw) == message:
                return message
        self._submit(encode(message), f"publishing epoch {report.epoch}")
        log.info("epoch %d published on topic %s", report.epoch, self.topic_id)
        return message

    def register_validator(self, epoch: int, rounds: int) -> ValidatorMessage:
        """Say (as the operator, a validator) that it ran ``rounds`` rounds in ``epoch``."""
        message = ValidatorMessage(epoch=epoch, validator=self.operator.account_id, rounds=rounds)
        self._submit(encode(message), f"registering validator for epoch {epoch}")
        return message

    def _submit(self, data: bytes, what: str) -> None:
        from hiero_sdk_python.consensus.topic_id import TopicId
        from hiero_sdk_python.consensus.topic_message_submit_transaction import (
            TopicMessageSubmitTransaction,
        )

        tx = TopicMessageSubmitTransaction(TopicId.from_string(self.topic_id), data, max_chunks=1)
        with sdk_errors(what):
            receipt = tx.freeze_with(self.client).sign(self.operator.key).execute(self.client)
        self._check(receipt, what)

    @staticmethod
    def _check(receipt: Any, what: str) -> None:
        from tensornode.ledger.hedera.network import status_name

        name = status_name(receipt.status)
        if name != "SUCCESS":
            raise LedgerError(f"{what}: Hedera answered {name}", code=name)


class EpochRegistrar:
    """A validator's registrations: one message per epoch, at its first completed round
    (so it is on the topic before the coordinator settles that epoch)."""

    def __init__(self, log: ScoreLog, epoch_seconds: int) -> None:
        self.log = log
        self.epoch_seconds = epoch_seconds
        self.registered: set[int] = set()

    def round_completed(self, now: datetime) -> ValidatorMessage | None:
        """Register for the epoch containing ``now`` unless already done; the message sent."""
        epoch = epoch_at(now, self.epoch_seconds).number
        if epoch in self.registered:
            return None
        message = self.log.register_validator(epoch, rounds=1)
        self.registered.add(epoch)
        log.info("registered as a validator of epoch %d on topic %s", epoch, self.log.topic_id)
        return message


def public_key(key_type: str, hex_key: str) -> Any:
    """An SDK public key from the mirror node's ``_type`` and hex."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from hiero_sdk_python.crypto.public_key import PublicKey

    try:
        raw = bytes.fromhex(hex_key)
        if key_type == "ED25519":  # the type is known: no guessing seed or public key
            return PublicKey(Ed25519PublicKey.from_public_bytes(raw))
        if key_type == "ECDSA_SECP256K1":
            return PublicKey.from_bytes_ecdsa(raw)
    except ValueError:
        pass
    raise ConfigurationError(f"{key_type} key {hex_key[:16]}... is not a usable public key")


def parse_messages(
    messages: Sequence[TopicMessage],
) -> list[tuple[TopicMessage, EpochMessage | ValidatorMessage]]:
    """The topic's messages that are ours, in order."""
    out = []
    for raw in messages:
        parsed = decode(raw)
        if parsed is not None:
            out.append((raw, parsed))
    return out


def dump(message: EpochMessage | ValidatorMessage) -> str:
    return json.dumps(message.model_dump(mode="json"), sort_keys=True)
