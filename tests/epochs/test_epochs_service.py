"""The epoch scheduler's pass: settle the epoch that just ended, finish interrupted ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tensornode.epochs.clock import EpochWindow
from tensornode.epochs.report import EpochReport, verify_epoch
from tensornode.epochs.service import EpochInputs, EpochService
from tensornode.errors import LedgerError, UpstreamError
from tensornode.ledger.local import LocalLedger

from .checks import assert_paid_exactly_once, status
from .ledgers import PayeeRefusingLedger
from .scores import VALIDATORS, rewards, some_miners

NOON = datetime(2026, 11, 25, 12, 0, 30, tzinfo=UTC)  # 30 s into epoch 2,992,680 of 600 s


class Collector:
    """Records which windows were collected; everyone scores the same."""

    def __init__(self) -> None:
        self.windows: list[EpochWindow] = []

    def __call__(self, window: EpochWindow) -> EpochInputs:
        self.windows.append(window)
        return EpochInputs(some_miners(), VALIDATORS)


def test_settles_the_epoch_that_just_ended_once(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    collect = Collector()
    service = EpochService(sessions, ledger, rewards(), collect)
    [report] = service.settle_due(NOON)
    assert report.epoch == 2_992_679
    assert report.ends_at == NOON - timedelta(seconds=30)
    assert collect.windows[0].number == 2_992_679
    assert service.settle_due(NOON + timedelta(seconds=200)) == []
    assert len(collect.windows) == 1
    assert service.report(2_992_679) == report

    [following] = service.settle_due(NOON + timedelta(seconds=600))
    assert verify_epoch(following, report) == []
    assert_paid_exactly_once(ledger, sessions, following)


def test_finishes_an_interrupted_epoch_with_its_frozen_scores_first(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    collect = Collector()
    broken = EpochService(sessions, PayeeRefusingLedger(ledger, {"0.0.2001"}), rewards(), collect)
    try:
        broken.settle_due(NOON)
    except UpstreamError as exc:
        assert "miner payout to 0.0.2001" in exc.message
    else:
        raise AssertionError("the refused payout went unnoticed")
    assert status(sessions, 2_992_679) == "paying"

    service = EpochService(sessions, ledger, rewards(), collect)
    finished, current = service.settle_due(NOON + timedelta(seconds=600))
    assert (finished.epoch, current.epoch) == (2_992_679, 2_992_680)
    assert [w.number for w in collect.windows] == [2_992_679, 2_992_680]
    assert verify_epoch(current, finished) == []
    assert_paid_exactly_once(ledger, sessions, finished)
    assert_paid_exactly_once(ledger, sessions, current)


def test_an_epoch_missed_while_down_is_skipped(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    service = EpochService(sessions, ledger, rewards(), Collector())
    [first] = service.settle_due(NOON)
    [later] = service.settle_due(NOON + timedelta(hours=1))
    assert later.epoch == first.epoch + 6
    assert (later.previous_epoch, later.previous_hash) == (first.epoch, first.hash)
    # the clock going back never settles an older epoch behind a newer one
    assert service.settle_due(NOON + timedelta(minutes=30)) == []


class FlakyScoreLog:
    """A score log on which only VALIDATORS[0] registered, and whose first publish fails."""

    def __init__(self) -> None:
        self.published: list[int] = []
        self.failures = 1
        self.registered: dict[int, set[str]] = {}

    def registered_validators(self, epoch: int) -> set[str]:
        return {VALIDATORS[0], *self.registered.get(epoch, set())}

    def register_validator(self, epoch: int, rounds: int) -> object:
        self.registered.setdefault(epoch, set()).add(VALIDATORS[2])  # the publisher's account
        return epoch

    def publish_epoch(self, report: EpochReport) -> object:
        if self.failures:
            self.failures -= 1
            raise LedgerError("publishing epoch: Hedera answered BUSY", code="BUSY")
        self.published.append(report.epoch)
        return report.hash


def test_with_a_score_log_only_registered_validators_are_paid_and_publishing_is_retried(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    score_log = FlakyScoreLog()
    service = EpochService(sessions, ledger, rewards(), Collector(), score_log)
    [report] = service.settle_due(NOON)
    assert report.validators == [VALIDATORS[0]]
    assert [p.account for p in report.payouts if p.kind == "validator"] == [VALIDATORS[0]]
    assert score_log.published == []  # the first attempt failed: kept for the next pass
    assert service.settle_due(NOON + timedelta(seconds=200)) == []
    assert score_log.published == [report.epoch]
    [following] = service.settle_due(NOON + timedelta(seconds=600))
    assert score_log.published == [report.epoch, following.epoch]


def test_the_in_process_validator_registers_itself_when_it_publishes(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    score_log = FlakyScoreLog()
    score_log.failures = 0
    service = EpochService(
        sessions, ledger, rewards(), Collector(), score_log, own_validator=VALIDATORS[2]
    )
    [report] = service.settle_due(NOON)
    assert report.validators == [VALIDATORS[0], VALIDATORS[2]]  # VALIDATORS[1]: unregistered
    assert score_log.registered == {report.epoch: {VALIDATORS[2]}}


def test_an_epoch_in_which_no_round_ran_is_never_paid(
    ledger: LocalLedger, sessions: sessionmaker[Session]
) -> None:
    """A fresh coordinator's first pass: the epoch that just ended was never validated."""
    pool = rewards().pool_account
    before = ledger.balance(pool)
    service = EpochService(sessions, ledger, rewards(), lambda _: EpochInputs(ran=False))
    assert service.settle_due(NOON) == []
    assert service.report(2_992_679) is None
    assert ledger.balance(pool) == before  # nothing minted, nothing paid
