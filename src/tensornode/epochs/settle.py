"""Settling an epoch: freeze its scores, split its emission, pay it, publish its report.

:func:`settle_epoch` is idempotent as a whole and safe to rerun after a crash anywhere:

1. **freeze**: the first call stores the draft report (scores, validators, split
   configuration, payouts) in ``epochs`` with status ``paying``. Every later call pays
   what was frozen, whatever scores it is handed.
2. **pay**: on a minting ledger, mint the emission into the pool account (key
   ``epoch:N:mint``); then the payouts from the pool in batches of the ledger's
   ``max_batch`` (one Hedera transaction each, keyed ``epoch:N:batch:I``), every payout
   keyed ``epoch:N:<kind>:<account>``, so an account already paid is never paid again.
   A failed batch does not stop the others; the epoch stays ``paying`` and the error
   names what failed: settling again retries only that.
3. **publish**: seal the report (hash, link to the previous report) and store it; the
   epoch becomes ``settled`` and settling it again returns the stored report.

Epochs join the chain in order: an epoch cannot be frozen while an earlier one is still
``paying``, nor after a later one was frozen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tensornode.config import RewardsSettings
from tensornode.db.models import utcnow
from tensornode.epochs.clock import EpochWindow
from tensornode.epochs.models import EPOCH_PAYING, EPOCH_SETTLED, Epoch, EpochReportRow
from tensornode.epochs.report import (
    EpochReport,
    MinerResult,
    PayoutRecord,
    SplitConfig,
    draft_report,
    mint_key,
)
from tensornode.errors import Conflict, TensorNodeError, UpstreamError
from tensornode.ledger.base import BatchResult, Ledger, MintingLedger, TransferOrder
from tensornode.ledger.database import database_errors, lock_for_write

log = logging.getLogger(__name__)

PayoutHook = Callable[[PayoutRecord], None]
"""Called after each payout went through (progress reporting; tests pause here)."""


def settle_epoch(
    sessions: sessionmaker[Session],
    ledger: Ledger,
    window: EpochWindow,
    miners: Sequence[MinerResult],
    validators: Iterable[str],
    rewards: RewardsSettings,
    *,
    on_payout: PayoutHook | None = None,
) -> EpochReport:
    """Settle epoch ``window.number`` and return its sealed report (see module docstring).

    ``miners`` are the epoch's frozen scores (:meth:`MinerResult.from_score`);
    ``validators`` the accounts that completed rounds in it.
    """
    published = load_report(sessions, window.number)
    if published is not None:
        return published
    draft = freeze_epoch(sessions, window, miners, validators, rewards)
    paid = pay_epoch(ledger, draft, on_payout=on_payout)
    return publish_report(sessions, draft.model_copy(update={"payouts": paid}))


def load_report(sessions: sessionmaker[Session], number: int) -> EpochReport | None:
    """The published report of epoch ``number``, or None while it is not settled."""
    with database_errors("epochs"), sessions() as session:
        row = session.get(EpochReportRow, number)
        return None if row is None else EpochReport.model_validate_json(row.body)


def freeze_epoch(
    sessions: sessionmaker[Session],
    window: EpochWindow,
    miners: Sequence[MinerResult],
    validators: Iterable[str],
    rewards: RewardsSettings,
) -> EpochReport:
    """The epoch's frozen draft: stored now by the first caller, read back by the others."""
    try:
        with database_errors("epochs"), sessions.begin() as session:
            lock_for_write(session)
            row = session.get(Epoch, window.number)
            if row is not None:
                return _frozen_draft(row, miners)
            draft = draft_report(
                window,
                miners,
                validators,
                emission=rewards.emission_per_epoch,
                config=SplitConfig.from_settings(rewards),
                previous=_chain_tip(session, window.number),
            )
            session.add(
                Epoch(
                    number=window.number,
                    status=EPOCH_PAYING,
                    starts_at=window.starts_at,
                    ends_at=window.ends_at,
                    draft=draft.canonical(),
                    frozen_at=utcnow(),
                )
            )
            log.info("epoch %d frozen: %d payouts", window.number, len(draft.payouts))
            return draft
    except IntegrityError as exc:
        # another settler froze it between our read and our insert (PostgreSQL)
        with database_errors("epochs"), sessions() as session:
            row = session.get(Epoch, window.number)
            if row is None:
                raise UpstreamError(
                    f"epoch {window.number} could not be frozen: {exc.orig}"
                ) from exc
            return _frozen_draft(row, miners)


def _frozen_draft(row: Epoch, miners: Sequence[MinerResult]) -> EpochReport:
    draft = EpochReport.model_validate_json(row.draft)
    if miners and draft.miners != sorted(miners, key=lambda miner: miner.miner_id):
        log.warning("epoch %d was frozen earlier: paying its frozen scores", row.number)
    return draft


def _chain_tip(session: Session, number: int) -> tuple[int, str] | None:
    """The (number, hash) the new epoch links to; refuses to settle out of order."""
    unsettled = session.scalar(
        select(Epoch.number)
        .where(Epoch.number < number, Epoch.status != EPOCH_SETTLED)
        .order_by(Epoch.number)
        .limit(1)
    )
    if unsettled is not None:
        raise Conflict(f"epoch {unsettled} is not settled yet: settle it before epoch {number}")
    later = session.scalar(select(Epoch.number).where(Epoch.number > number).limit(1))
    if later is not None:
        raise Conflict(f"epoch {later} is already frozen: epoch {number} cannot come after it")
    tip = session.execute(
        select(EpochReportRow.number, EpochReportRow.hash)
        .where(EpochReportRow.number < number)
        .order_by(EpochReportRow.number.desc())
        .limit(1)
    ).first()
    return None if tip is None else (tip.number, tip.hash)


def batch_key(epoch: int, index: int) -> str:
    """The key of an epoch's ``index``-th payout batch (1-based): the same on every retry."""
    return f"epoch:{epoch}:batch:{index}"


def payout_batches(payouts: Sequence[PayoutRecord], size: int) -> list[list[PayoutRecord]]:
    """The payouts cut in order into batches of at most ``size``, no account twice in one
    (a Hedera transfer list may name an account once)."""
    batches: list[list[PayoutRecord]] = []
    for payout in payouts:
        current = batches[-1] if batches else None
        if (
            current is None
            or len(current) >= size
            or any(p.account == payout.account for p in current)
        ):
            batches.append([payout])
        else:
            current.append(payout)
    return batches


def pay_epoch(
    ledger: Ledger, draft: EpochReport, *, on_payout: PayoutHook | None = None
) -> list[PayoutRecord]:
    """Pay every payout of ``draft`` from the pool, each exactly once; return them paid.

    Payouts go in batches of the ledger's ``max_batch`` (one Hedera transaction each),
    the memo naming the epoch and the batch.
    """
    epoch, pool = draft.epoch, draft.config.pool_account
    if isinstance(ledger, MintingLedger) and draft.emission > 0:
        ledger.mint(
            pool, draft.emission, idempotency_key=mint_key(epoch), memo=f"epoch {epoch} emission"
        )
    paid: list[PayoutRecord] = []
    failed: list[str] = []
    batches = payout_batches(draft.payouts, ledger.max_batch)
    for index, batch in enumerate(batches, start=1):
        orders = [TransferOrder(p.account, p.amount, p.idempotency_key) for p in batch]
        try:
            result = ledger.transfer_batch(
                pool,
                orders,
                batch_key=batch_key(epoch, index),
                memo=f"tensornode epoch {epoch} batch {index}/{len(batches)}",
            )
        except TensorNodeError as exc:
            result = BatchResult(failed={order.idempotency_key: exc.message for order in orders})
        for payout in batch:
            receipt = result.paid.get(payout.idempotency_key)
            if receipt is None:
                why = result.failed.get(payout.idempotency_key, "not paid")
                log.error("epoch %d: %s payout failed: %s", epoch, payout.idempotency_key, why)
                failed.append(f"{payout.kind} payout to {payout.account}: {why}")
                continue
            record = payout.model_copy(update={"transaction_id": receipt.transaction_id})
            paid.append(record)
            if on_payout is not None:
                on_payout(record)
    if failed:
        raise UpstreamError(
            f"epoch {epoch}: {len(failed)} of {len(draft.payouts)} payouts failed "
            f"({'; '.join(failed)}); settle the epoch again to retry them"
        )
    return paid


def publish_report(sessions: sessionmaker[Session], report: EpochReport) -> EpochReport:
    """Seal and store the report of a fully paid epoch; return the stored one."""
    sealed = report.sealed()
    try:
        with database_errors("epochs"), sessions.begin() as session:
            lock_for_write(session)
            existing = session.get(EpochReportRow, sealed.epoch)
            if existing is not None:
                return EpochReport.model_validate_json(existing.body)
            session.add(
                EpochReportRow(
                    number=sealed.epoch,
                    hash=sealed.hash,
                    previous_hash=sealed.previous_hash,
                    body=sealed.canonical(),
                    created_at=utcnow(),
                )
            )
            epoch = session.get_one(Epoch, sealed.epoch)
            epoch.status = EPOCH_SETTLED
            epoch.settled_at = utcnow()
    except IntegrityError as exc:
        stored = load_report(sessions, sealed.epoch)
        if stored is None:
            raise UpstreamError(f"epoch {sealed.epoch}'s report was refused: {exc.orig}") from exc
        return stored
    log.info("epoch %d settled: report %s", sealed.epoch, sealed.hash)
    return sealed
