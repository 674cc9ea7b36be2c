"""The epoch scheduler's one pass: finish interrupted epochs, then settle the one just ended.

:meth:`EpochService.settle_due` is the burst mode of the coordinator's epoch loop: call it
every few seconds (in a worker thread: it blocks on the database and the ledger) and it
returns what it settled. Every replica may call it; settlement is idempotent, so a
duplicate call pays nothing twice.

Policy: an epoch left ``paying`` by a crash is finished first, with its frozen scores.
Epochs that ended while no coordinator ran are not settled afterwards (their emission is
never minted); the chain shows the gap through ``previous_epoch``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tensornode.config import RewardsSettings
from tensornode.epochs.clock import EpochWindow, last_finished_epoch
from tensornode.epochs.models import EPOCH_PAYING, Epoch
from tensornode.epochs.report import EpochReport, MinerResult
from tensornode.epochs.settle import load_report, settle_epoch
from tensornode.errors import TensorNodeError
from tensornode.ledger.base import Ledger, ReceiverCheckingLedger
from tensornode.ledger.database import database_errors

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochInputs:
    """What an epoch is paid for: frozen miner scores and the validators that completed rounds."""

    miners: Sequence[MinerResult] = ()
    validators: Sequence[str] = field(default_factory=tuple)
    ran: bool = True  # False: no validation round finished in the epoch (nothing to pay for)


Collector = Callable[[EpochWindow], EpochInputs]
"""Gathers an ended epoch's inputs (the validator engine's scores, owners, validators)."""


class ScorePublisher(Protocol):
    """A public score log (Hedera's: :class:`~tensornode.ledger.hedera.score_log.ScoreLog`)."""

    def registered_validators(self, epoch: int) -> set[str]:
        """The validators that registered themselves for ``epoch``."""
        ...

    def publish_epoch(self, report: EpochReport) -> object:
        """Publish a settled report (idempotent)."""
        ...

    def register_validator(self, epoch: int, rounds: int) -> object:
        """Register the publisher's own account as a validator of ``epoch``."""
        ...


class EpochService:
    """Settles epochs on a clock: the coordinator's epoch scheduler, callable without HTTP."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ledger: Ledger,
        rewards: RewardsSettings,
        collect: Collector,
        publisher: ScorePublisher | None = None,
        own_validator: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.ledger = ledger
        self.rewards = rewards
        self.collect = collect
        self.publisher = publisher
        self.own_validator = own_validator  # the in-process validator, when it publishes
        self._unpublished: list[EpochReport] = []

    def settle_due(self, now: datetime) -> list[EpochReport]:
        """Settle what is due at ``now``; the reports settled by this pass, oldest first."""
        settled = [self._finish(number) for number in self._paying()]
        window = last_finished_epoch(now, self.rewards.epoch_seconds)
        if window is None or self._frozen(window.number) or self._later_frozen(window.number):
            self._publish(settled)
            return settled
        inputs = self.collect(window)
        if not inputs.ran:  # e.g. a fresh coordinator: the epoch ended before it ran
            log.info("epoch %d: no validation round ran in it: not settled", window.number)
            self._publish(settled)
            return settled
        inputs = self._payable_only(window, self._registered_only(window, inputs))
        report = settle_epoch(
            self.sessions, self.ledger, window, inputs.miners, inputs.validators, self.rewards
        )
        log.info("epoch %d settled: %d payouts", report.epoch, len(report.payouts))
        self._publish([*settled, report])
        return [*settled, report]

    def _registered_only(self, window: EpochWindow, inputs: EpochInputs) -> EpochInputs:
        """With a score log, validator shares go only to validators registered on it."""
        if self.publisher is None or not inputs.validators:
            return inputs
        registered = self.publisher.registered_validators(window.number)
        own = self.own_validator
        if own is not None and own in inputs.validators and own not in registered:
            self.publisher.register_validator(window.number, rounds=1)
            registered.add(own)
        unregistered = sorted(set(inputs.validators) - registered)
        if unregistered:
            log.warning(
                "epoch %d: validators %s ran rounds but did not register: no share",
                window.number,
                ", ".join(unregistered),
            )
        return replace(inputs, validators=[v for v in inputs.validators if v in registered])

    def _payable_only(self, window: EpochWindow, inputs: EpochInputs) -> EpochInputs:
        """Leave out payees the ledger cannot pay (a token they are not associated with),
        so one of them cannot hold the epoch, and every later one, in ``paying``."""
        if not isinstance(self.ledger, ReceiverCheckingLedger):
            return inputs
        payees = sorted({m.account for m in inputs.miners} | set(inputs.validators))
        refused = self.ledger.cannot_receive(payees)
        for why in sorted(refused.values()):
            log.warning("epoch %d: %s: left out of the payouts", window.number, why)
        return replace(
            inputs,
            miners=[m for m in inputs.miners if m.account not in refused],
            validators=[v for v in inputs.validators if v not in refused],
        )

    def _publish(self, reports: list[EpochReport]) -> None:
        """Publish settled reports; one that fails is tried again on the next pass."""
        if self.publisher is None:
            return
        pending, self._unpublished = [*self._unpublished, *reports], []
        for report in pending:
            try:
                self.publisher.publish_epoch(report)
            except TensorNodeError as exc:
                log.error("epoch %d: publishing failed (retried next pass): %s", report.epoch, exc)
                self._unpublished.append(report)

    def report(self, number: int) -> EpochReport | None:
        """Epoch ``number``'s published report (what ``GET /epochs/{n}`` serves)."""
        return load_report(self.sessions, number)

    def _finish(self, number: int) -> EpochReport:
        log.warning("epoch %d was interrupted while paying: finishing it", number)
        # the frozen draft decides what is paid: no inputs are collected again
        with database_errors("epochs"), self.sessions() as session:
            row = session.get_one(Epoch, number)
            window = EpochWindow(number, row.starts_at, row.ends_at)
        return settle_epoch(self.sessions, self.ledger, window, (), (), self.rewards)

    def _paying(self) -> list[int]:
        with database_errors("epochs"), self.sessions() as session:
            query = select(Epoch.number).where(Epoch.status == EPOCH_PAYING).order_by(Epoch.number)
            return list(session.scalars(query))

    def _frozen(self, number: int) -> bool:
        with database_errors("epochs"), self.sessions() as session:
            return session.get(Epoch, number) is not None

    def _later_frozen(self, number: int) -> bool:
        with database_errors("epochs"), self.sessions() as session:
            later = session.scalar(select(Epoch.number).where(Epoch.number > number).limit(1))
            return later is not None
