"""The validator registry, the miners to probe, and rounds stored with their evidence.

Who may validate: the coordinator's own in-process validator account
(``validator.account``), the accounts named in ``validator.accounts``, and those an
operator registered (``tensornode coordinator validator add ACCOUNT``, table
``validators``). Everyone else gets 403 from the validation endpoints.

A submitted round is re-graded here, never trusted: the validator sends the seed the
coordinator issued it (with its ticket, :mod:`.seeds`: no validator picks its own seed
or leaves a miner out) and, per (challenge, miner), what it observed (status, answer,
latency). The coordinator re-plans each miner's challenges from the seed
(:func:`plan_round`: same seed, same challenges, same hashes), checks that every probe
names one of them and that every miner answered all of its own, and grades every
answer with its own scorers
(:func:`grade_round`). Verifiable answers are thus re-checked against the expected
answer the coordinator regenerated; open ones are scored by the coordinator's own
embedding model or judge. What a validator can still misreport is what it observed
(latency, an answer it never got); pooling several validators' rounds dilutes that. A
seed can be used once (the round id is its digest: a replay is 409), and a round that
finished in an epoch already frozen is refused (409).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import case, func, select

from tensornode.coordinator.accounts import get_or_create_account
from tensornode.db.models import Account, Miner, utcnow
from tensornode.epochs.clock import epoch_at
from tensornode.epochs.models import Epoch
from tensornode.errors import Conflict, Forbidden, InvalidInput, NotFound
from tensornode.gateway.upstream import chat_body
from tensornode.scoring.factory import round_options, subnet_from_settings
from tensornode.scoring.grading import grade_round
from tensornode.scoring.network.models import ValidationResult, ValidationRound, ValidatorAccount
from tensornode.scoring.network.schemas import (
    MinerRoundSummary,
    RoundPublic,
    RoundSubmission,
    ValidatorPublic,
)
from tensornode.scoring.network.seeds import IssuedSeed, SeedIssuer
from tensornode.scoring.round import plan_for_miners, request_payloads, round_id_for
from tensornode.scoring.schemas import Evidence, MinerTarget, ProbeResult, RoundResult
from tensornode.scoring.subnets import Subnet

if TYPE_CHECKING:
    from tensornode.scoring.network.runtime import ValidationRuntime

log = logging.getLogger(__name__)

TARGET_STATUSES = ("active", "unhealthy")
"""Miners a round probes: up, or expected up (a failing miner is scored, not skipped)."""
CLOCK_SLACK = timedelta(seconds=60)


class ValidationService:
    """Validator registry, round targets, and rounds stored (and re-graded) with evidence."""

    def __init__(self, runtime: ValidationRuntime) -> None:
        self.runtime = runtime
        self.db = runtime.db
        self.settings = runtime.settings
        self.seeds = SeedIssuer(
            runtime.signer.derive("round-seeds"), self.settings.validator.seed_ttl_s
        )

    # -- the validator registry ------------------------------------------------------

    @property
    def own_account(self) -> str:
        return self.settings.validator.account

    async def ensure_own_account(self) -> None:
        """Create the in-process validator's account (rounds reference it)."""
        async with self.db.session() as session:
            await get_or_create_account(session, self.own_account)

    async def is_validator(self, account_id: str) -> bool:
        if account_id == self.own_account or account_id in self.settings.validator.accounts:
            return True
        async with self.db.session() as session:
            return await session.get(ValidatorAccount, account_id) is not None

    async def require_validator(self, account: Account) -> str:
        """``account``'s id if it may validate; 403 otherwise."""
        if not await self.is_validator(account.id):
            raise Forbidden(
                f"account {account.id} is not a registered validator "
                "(an operator adds it with `tensornode coordinator validator add`)"
            )
        return account.id

    async def add_validator(self, account_id: str, note: str | None = None) -> ValidatorPublic:
        """Register ``account_id`` as a validator (idempotent)."""
        async with self.db.session() as session:
            await get_or_create_account(session, account_id)
            row = await session.get(ValidatorAccount, account_id)
            if row is None:
                session.add(ValidatorAccount(account_id=account_id, note=note, added_at=utcnow()))
        return ValidatorPublic(account_id=account_id, source="registry", note=note)

    async def remove_validator(self, account_id: str) -> None:
        async with self.db.session() as session:
            row = await session.get(ValidatorAccount, account_id)
            if row is None:
                raise NotFound(f"account {account_id} is not in the validator registry")
            await session.delete(row)

    async def validators(self) -> list[ValidatorPublic]:
        """Everyone allowed to validate, and why."""
        out = [ValidatorPublic(account_id=self.own_account, source="coordinator")]
        out += [
            ValidatorPublic(account_id=a, source="settings")
            for a in self.settings.validator.accounts
        ]
        async with self.db.session() as session:
            rows = await session.scalars(
                select(ValidatorAccount).order_by(ValidatorAccount.account_id)
            )
            out += [
                ValidatorPublic(account_id=r.account_id, source="registry", note=r.note)
                for r in rows
            ]
        return out

    # -- targets -----------------------------------------------------------------------

    def subnet(self, name: str) -> Subnet:
        """The subnet with the configured weights (404 for an unknown one)."""
        return subnet_from_settings(name, self.settings.validator)

    def challenges_per_round(self, subnet: Subnet) -> int:
        return self.settings.validator.challenges_per_round or subnet.challenges_per_round

    async def target_miners(self, subnet: str) -> list[Miner]:
        """The subnet's miners a round probes, oldest first."""
        self.subnet(subnet)
        async with self.db.session() as session:
            rows = await session.scalars(
                select(Miner)
                .where(Miner.subnet == subnet, Miner.status.in_(TARGET_STATUSES))
                .order_by(Miner.created_at, Miner.id)
            )
            return list(rows)

    async def targets(self, subnet: str) -> list[MinerTarget]:
        return [MinerTarget(m.id, m.endpoint) for m in await self.target_miners(subnet)]

    def issue_seed(self, validator_id: str, subnet: str, miners: Sequence[str]) -> IssuedSeed:
        """A fresh seed for ``validator_id``'s next round over ``miners`` (:mod:`.seeds`)."""
        return self.seeds.issue(validator_id, subnet, miners, utcnow())

    def presign(
        self, subnet: Subnet, seed: int, targets: Sequence[MinerTarget]
    ) -> dict[str, dict[str, str]]:
        """miner id -> challenge id -> the signature header of that probe in the round
        ``seed`` makes: a remote validator has no key, and miners may refuse unsigned
        requests. Valid for :data:`~tensornode.net.signing.MAX_SKEW_S` after issue."""
        ids = [t.miner_id for t in targets]
        plans = plan_for_miners(subnet, seed, ids, self.challenges_per_round(subnet))
        send_seed = self.settings.validator.send_seed
        out: dict[str, dict[str, str]] = {}
        for target in targets:
            challenges = plans[target.miner_id]
            payloads = request_payloads(target.miner_id, challenges, seed, send_seed)
            out[target.miner_id] = {
                ch.id: self.runtime.signer.header(target.url, chat_body(payload))
                for ch, payload in zip(challenges, payloads, strict=True)
            }
        return out

    # -- rounds ------------------------------------------------------------------------

    async def record_round(
        self, validator_id: str, result: RoundResult, *, seed: int, source: str
    ) -> RoundPublic:
        """Store a graded round and its evidence (409 if its seed was used before)."""
        started = datetime.fromisoformat(result.started_at)
        finished = datetime.fromisoformat(result.finished_at)
        miners = sorted({e.miner_id for e in result.evidence})
        async with self.db.session() as session:
            if await session.get(ValidationRound, result.round_id) is not None:
                raise Conflict(f"round {result.round_id} was already submitted")
            session.add(
                ValidationRound(
                    id=result.round_id,
                    subnet=result.subnet,
                    validator_id=validator_id,
                    source=source,
                    seed=str(seed),
                    challenges=len(result.challenges),
                    miners=len(miners),
                    started_at=started,
                    finished_at=finished,
                    received_at=utcnow(),
                )
            )
            await session.flush()
            session.add_all(_result_row(e, finished) for e in result.evidence)
        log.info(
            "validation round %s stored: %d miners, %d probes (%s, validator %s)",
            result.round_id, len(miners), len(result.evidence), source, validator_id,
        )  # fmt: skip
        return RoundPublic(
            round_id=result.round_id,
            subnet=result.subnet,
            validator=validator_id,
            source=source,
            started_at=started,
            finished_at=finished,
            challenges=len(result.challenges),
            miners=_summaries(result.evidence),
        )

    async def submit_round(self, validator_id: str, body: RoundSubmission) -> RoundPublic:
        """Check a remote validator's round, re-grade it, store it (see module docstring)."""
        subnet = self.subnet(body.subnet)
        seed = int(body.seed)
        await self._check_times(body.started_at, body.finished_at)
        miners = await self._submitted_miners(body, subnet.name)
        self.seeds.check(
            validator_id, subnet.name, seed, body.issued_at, body.ticket, miners, utcnow()
        )
        plans = plan_for_miners(subnet, seed, miners, body.challenges)
        by_id = {c.id: (m, c) for m in miners for c in plans[m]}
        seen: dict[str, ProbeResult] = {}
        for order, probe in enumerate(body.probes, start=1):
            planned = by_id.get(probe.challenge_id)
            if planned is None or planned[0] != probe.miner_id:
                raise InvalidInput(
                    f"challenge {probe.challenge_id} is not one of miner {probe.miner_id}'s "
                    f"challenges in round {round_id_for(seed)} (wrong seed or count?)"
                )
            if probe.challenge_id in seen:
                raise InvalidInput(f"miner {probe.miner_id} answers {probe.challenge_id} twice")
            seen[probe.challenge_id] = ProbeResult(
                probe.miner_id, probe.status, probe.answer, probe.latency_s,
                probe.http_status, probe.error, order,
            )  # fmt: skip
        missing = [(cid, m) for cid, (m, _) in by_id.items() if cid not in seen]
        if missing:
            challenge, miner = missing[0]
            raise InvalidInput(
                f"{len(missing)} probes missing, e.g. miner {miner} on challenge {challenge}: "
                "submit every challenge for every miner (failures included)"
            )
        challenges = [c for m in miners for c in plans[m]]
        probes = {c.id: [seen[c.id]] for c in challenges}
        options = round_options(self.settings.validator, subnet)
        round_id = round_id_for(seed)
        evidence, medians = await grade_round(
            round_id,
            challenges,
            probes,
            embedder=self.runtime.embedder(),
            judge=self.runtime.judge,
            options=options.grading,
        )
        result = RoundResult(
            round_id=round_id,
            subnet=subnet.name,
            started_at=body.started_at.isoformat(),
            finished_at=body.finished_at.isoformat(),
            challenges=tuple(challenges),
            evidence=tuple(evidence),
            medians=medians,
        )
        return await self.record_round(validator_id, result, seed=seed, source="remote")

    async def _submitted_miners(self, body: RoundSubmission, subnet: str) -> list[str]:
        ids = sorted({p.miner_id for p in body.probes})
        async with self.db.session() as session:
            rows = await session.execute(select(Miner.id, Miner.subnet).where(Miner.id.in_(ids)))
            known: dict[str, str] = {miner_id: subnet for miner_id, subnet in rows}
        for miner_id in ids:
            if miner_id not in known:
                raise InvalidInput(f"unknown miner {miner_id}")
            if known[miner_id] != subnet:
                raise InvalidInput(f"miner {miner_id} is in subnet {known[miner_id]}, not {subnet}")
        return ids

    async def _check_times(self, started: datetime, finished: datetime) -> None:
        if started.tzinfo is None or finished.tzinfo is None:
            raise InvalidInput("startedAt and finishedAt need a UTC offset (ISO 8601)")
        if finished < started:
            raise InvalidInput("finishedAt is before startedAt")
        if finished > utcnow() + CLOCK_SLACK:
            raise InvalidInput("finishedAt is in the future")
        number = epoch_at(finished, self.settings.rewards.epoch_seconds).number
        async with self.db.session() as session:
            frozen = await session.scalar(select(func.max(Epoch.number)))
        if frozen is not None and frozen >= number:
            raise Conflict(f"the round finished in epoch {number}, which is already settled")

    async def rounds(
        self, subnet: str | None, *, limit: int, offset: int
    ) -> tuple[list[RoundPublic], int]:
        """Stored rounds, latest first, each with its miners' pass counts."""
        query = select(ValidationRound)
        if subnet is not None:
            query = query.where(ValidationRound.subnet == subnet)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = list(
                await session.scalars(
                    query.order_by(ValidationRound.finished_at.desc(), ValidationRound.id)
                    .limit(limit)
                    .offset(offset)
                )
            )
            per_miner = await session.execute(
                select(
                    ValidationResult.round_id,
                    ValidationResult.miner_id,
                    func.count(),
                    func.sum(case((ValidationResult.status == "ok", 1), else_=0)),
                    func.sum(case((ValidationResult.verdict == "pass", 1), else_=0)),
                    func.avg(ValidationResult.score),
                )
                .where(ValidationResult.round_id.in_([r.id for r in rows]))
                .group_by(ValidationResult.round_id, ValidationResult.miner_id)
                .order_by(ValidationResult.round_id, ValidationResult.miner_id)
            )
        miners: dict[str, list[MinerRoundSummary]] = {}
        for round_id, miner_id, probes, answered, passed, quality in per_miner:
            miners.setdefault(round_id, []).append(
                MinerRoundSummary(
                    miner_id=miner_id, probes=int(probes), answered=int(answered or 0),
                    passed=int(passed or 0), quality=round(float(quality or 0.0), 6),
                )
            )  # fmt: skip
        data = [
            RoundPublic(
                round_id=r.id, subnet=r.subnet, validator=r.validator_id, source=r.source,
                started_at=r.started_at, finished_at=r.finished_at, challenges=r.challenges,
                miners=miners.get(r.id, []),
            )
            for r in rows
        ]  # fmt: skip
        return data, int(count or 0)

    async def rounds_count(self) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count()).select_from(ValidationRound)) or 0)


def _result_row(e: Evidence, at: datetime) -> ValidationResult:
    return ValidationResult(
        round_id=e.round_id,
        miner_id=e.miner_id,
        at=at,
        challenge_id=e.challenge_id,
        challenge_hash=e.challenge_hash,
        family=e.family,
        status=e.status,
        answer=e.answer,
        latency_s=e.latency_s,
        score=e.score,
        speed=e.speed,
        verdict=e.verdict,
        reason=e.reason[:1000],
    )


def _summaries(evidence: Sequence[Evidence]) -> list[MinerRoundSummary]:
    grouped: dict[str, list[Evidence]] = {}
    for e in evidence:
        grouped.setdefault(e.miner_id, []).append(e)
    return [
        MinerRoundSummary(
            miner_id=miner,
            probes=len(items),
            answered=sum(1 for e in items if e.answered),
            passed=sum(1 for e in items if e.passed),
            quality=round(sum(e.score for e in items) / len(items), 6),
        )
        for miner, items in sorted(grouped.items())
    ]
