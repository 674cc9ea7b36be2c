"""Epoch reports: what an epoch paid and why, hashed and chained so history cannot change.

A report holds every miner's score components, a sha256 over each miner's evidence
records, the validators that completed rounds, the emission and split configuration,
the payouts, the epoch's window, and the hash of the previous report. Its ``hash`` is
the sha256 of its canonical JSON without the ``hash`` key: keys sorted, no whitespace,
UTF-8, money as integers, times as ISO 8601 UTC (``2026-11-25T00:00:00Z``), scores as
the shortest decimal that reads back as the same binary float.

Anyone holding two consecutive reports can run :func:`verify_epoch`: it recomputes the
payouts from the scores and configuration and checks both hashes and the link.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Annotated, Any, Literal, Protocol, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from tensornode.config import HEDERA_ACCOUNT_PATTERN, RewardsSettings
from tensornode.epochs.clock import EpochWindow
from tensornode.epochs.split import PayoutKind, SplitPercents, score_weight, split_emission
from tensornode.errors import InvalidInput, TensorNodeError

REPORT_VERSION: Literal[1] = 1
SHA256_PATTERN = r"^[0-9a-f]{64}$"

AccountId = Annotated[str, Field(pattern=HEDERA_ACCOUNT_PATTERN)]
Score = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Units = Annotated[int, Field(strict=True, ge=0)]
Percent = Annotated[int, Field(strict=True, ge=0, le=100)]
Sha256 = Annotated[str, Field(pattern=SHA256_PATTERN)]
UTCTime = Annotated[AwareDatetime, AfterValidator(lambda value: value.astimezone(UTC))]


def canonical_json(value: Any) -> bytes:
    """The one byte string a JSON value hashes as: sorted keys, no whitespace, UTF-8."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def evidence_sha256(records: Sequence[Any]) -> str:
    """The sha256 of a miner's evidence records (models, dataclasses or dicts), in order."""
    return sha256_hex(canonical_json(to_jsonable_python(list(records))))


def payout_key(epoch: int, account: str, kind: PayoutKind) -> str:
    """The idempotency key of one payout: the same for every attempt at paying it."""
    return f"epoch:{epoch}:{kind}:{account}"


def mint_key(epoch: int) -> str:
    """The idempotency key of an epoch's emission being minted into the pool."""
    return f"epoch:{epoch}:mint"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SplitConfig(_Record):
    """How the emission was split, as configured when the epoch was frozen."""

    miners_percent: Percent
    validators_percent: Percent
    treasury_percent: Percent
    treasury_account: AccountId
    pool_account: AccountId
    unit: str = Field(min_length=1, max_length=20)

    @classmethod
    def from_settings(cls, rewards: RewardsSettings) -> SplitConfig:
        return cls(
            miners_percent=rewards.miners_percent,
            validators_percent=rewards.validators_percent,
            treasury_percent=rewards.treasury_percent,
            treasury_account=rewards.treasury_account,
            pool_account=rewards.pool_account,
            unit=rewards.unit,
        )

    def percents(self) -> SplitPercents:
        return SplitPercents(self.miners_percent, self.validators_percent, self.treasury_percent)


class ScoredMiner(Protocol):
    """What :meth:`MinerResult.from_score` reads from the validator's per-miner score."""

    @property
    def quality(self) -> float: ...
    @property
    def speed(self) -> float: ...
    @property
    def availability(self) -> float: ...
    @property
    def participation(self) -> float: ...
    @property
    def total(self) -> float: ...
    @property
    def evidence(self) -> Sequence[Any]: ...


class MinerResult(_Record):
    """One miner's frozen score for the epoch; ``account`` is who gets paid for it."""

    miner_id: str = Field(min_length=1, max_length=64)
    account: AccountId
    quality: Score
    speed: Score
    availability: Score
    participation: Score
    total: Score
    weight: Units = Field(description="total score in integer micro-points: the payout weight")
    evidence_count: Units
    evidence_sha256: Sha256

    @classmethod
    def from_score(cls, miner_id: str, account: str, score: ScoredMiner) -> MinerResult:
        """Freeze a validator score for miner ``miner_id`` owned by ``account``."""
        return _validated(
            cls,
            miner_id=miner_id,
            account=account,
            quality=score.quality,
            speed=score.speed,
            availability=score.availability,
            participation=score.participation,
            total=score.total,
            weight=score_weight(score.total),
            evidence_count=len(score.evidence),
            evidence_sha256=evidence_sha256(score.evidence),
        )


class PayoutRecord(_Record):
    """One payout: who, why, how much, under which idempotency key, and its transaction."""

    account: AccountId
    kind: PayoutKind
    amount: Annotated[int, Field(strict=True, gt=0)]
    idempotency_key: str
    transaction_id: str | None = None


class EpochReport(_Record):
    """The published record of a settled epoch (``hash`` empty until sealed)."""

    version: Literal[1] = REPORT_VERSION
    epoch: Units
    starts_at: UTCTime
    ends_at: UTCTime
    emission: Units
    config: SplitConfig
    miners: list[MinerResult]
    validators: list[AccountId]
    payouts: list[PayoutRecord]
    previous_epoch: Units | None = Field(description="the settled epoch this one links to")
    previous_hash: Sha256 | None
    hash: str = ""

    def compute_hash(self) -> str:
        """The sha256 of this report's canonical JSON, ``hash`` key left out."""
        return sha256_hex(canonical_json(self.model_dump(mode="json", exclude={"hash"})))

    def sealed(self) -> EpochReport:
        """This report with its ``hash`` set."""
        return self.model_copy(update={"hash": self.compute_hash()})

    def canonical(self) -> str:
        """The report as published and stored: canonical JSON, ``hash`` included."""
        return canonical_json(self.model_dump(mode="json")).decode("utf-8")


_Model = TypeVar("_Model", bound=BaseModel)


def _validated(model: type[_Model], **fields: Any) -> _Model:
    """``model(**fields)``, a validation failure raised as :class:`InvalidInput`."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"invalid {model.__name__}: {where}: {first['msg']}") from None


def build_payouts(
    epoch: int,
    emission: int,
    config: SplitConfig,
    miners: Iterable[MinerResult],
    validators: Iterable[str],
) -> list[PayoutRecord]:
    """The payouts an epoch owes: miners by summed weight per account, validators equally."""
    weights: dict[str, int] = {}
    for miner in miners:
        weights[miner.account] = weights.get(miner.account, 0) + miner.weight
    payouts = split_emission(
        emission,
        config.percents(),
        miner_weights=weights,
        validators=validators,
        treasury_account=config.treasury_account,
    )
    return [
        PayoutRecord(
            account=p.account,
            kind=p.kind,
            amount=p.amount,
            idempotency_key=payout_key(epoch, p.account, p.kind),
        )
        for p in payouts
    ]


def draft_report(
    window: EpochWindow,
    miners: Sequence[MinerResult],
    validators: Iterable[str],
    *,
    emission: int,
    config: SplitConfig,
    previous: tuple[int, str] | None,
) -> EpochReport:
    """An unsealed report: inputs sorted, payouts computed, no transactions yet.

    ``previous`` is the (number, hash) of the report this one links to; None for the first.
    """
    ids = [miner.miner_id for miner in miners]
    if len(set(ids)) != len(ids):
        raise InvalidInput(f"epoch {window.number}: a miner is listed twice")
    ordered = sorted(miners, key=lambda miner: miner.miner_id)
    unique_validators = sorted(set(validators))
    payees = {miner.account for miner in ordered} | set(unique_validators)
    if config.pool_account in payees:
        raise InvalidInput(f"the pool account {config.pool_account} cannot also be paid from it")
    return _validated(
        EpochReport,
        epoch=window.number,
        starts_at=window.starts_at,
        ends_at=window.ends_at,
        emission=emission,
        config=config,
        miners=ordered,
        validators=unique_validators,
        payouts=build_payouts(window.number, emission, config, ordered, unique_validators),
        previous_epoch=None if previous is None else previous[0],
        previous_hash=None if previous is None else previous[1],
    )


def _check_hash(report: EpochReport, name: str) -> list[str]:
    computed = report.compute_hash()
    if report.hash != computed:
        return [
            f"{name} epoch {report.epoch}: hash {report.hash!r} does not match its content "
            f"(computed {computed})"
        ]
    return []


def _check_chain(report: EpochReport, previous: EpochReport | None) -> list[str]:
    if previous is None:
        if report.previous_hash is not None or report.previous_epoch is not None:
            return [
                f"epoch {report.epoch} links to epoch {report.previous_epoch} "
                f"({report.previous_hash}) but no previous report was given"
            ]
        return []
    problems = _check_hash(previous, "previous report:")
    if report.previous_epoch != previous.epoch or previous.epoch >= report.epoch:
        problems.append(
            f"epoch {report.epoch} links to epoch {report.previous_epoch}, "
            f"but the previous report given is epoch {previous.epoch}"
        )
    if report.previous_hash != previous.hash:
        problems.append(
            f"epoch {report.epoch} links to previous hash {report.previous_hash}, "
            f"but epoch {previous.epoch}'s hash is {previous.hash}"
        )
    return problems


def _check_payouts(report: EpochReport) -> list[str]:
    problems = [
        f"miner {m.miner_id}: weight {m.weight} does not match total score {m.total!r} "
        f"(expected {score_weight(m.total)})"
        for m in report.miners
        if m.weight != score_weight(m.total)
    ]
    try:
        expected = build_payouts(
            report.epoch, report.emission, report.config, report.miners, report.validators
        )
    except TensorNodeError as exc:
        return [*problems, f"payouts cannot be recomputed: {exc.message}"]
    want = {(p.account, p.kind): p for p in expected}
    have = {(p.account, p.kind): p for p in report.payouts}
    if len(have) != len(report.payouts):
        problems.append("an account is paid twice for the same kind")
    for key in sorted(want.keys() | have.keys()):
        account, kind = key
        got = have[key].amount if key in have else 0
        if got != (owed := want[key].amount if key in want else 0):
            problems.append(f"{kind} payout to {account}: report says {got}, recomputed {owed}")
        elif have[key].idempotency_key != want[key].idempotency_key:
            problems.append(
                f"{kind} payout to {account}: idempotency key {have[key].idempotency_key!r}, "
                f"expected {want[key].idempotency_key!r}"
            )
    paid = sum(p.amount for p in report.payouts)
    if paid != report.emission:
        problems.append(f"payouts sum to {paid}, not the emission {report.emission}")
    return problems


def verify_epoch(report: EpochReport, previous_report: EpochReport | None) -> list[str]:
    """Every problem found with ``report`` (empty: it checks out).

    Checks the report's hash against its content, its link to ``previous_report`` (which
    must be given unless the report is the first, whose ``previous_hash`` is null), the
    previous report's own hash, and the payouts recomputed from scores and configuration.
    """
    return [
        *_check_hash(report, "report:"),
        *_check_chain(report, previous_report),
        *_check_payouts(report),
    ]
