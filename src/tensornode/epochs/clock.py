"""Epoch arithmetic: epoch ``n`` covers ``[n·L, (n+1)·L)`` seconds after 1970-01-01 UTC.

With the default length of 86,400 s an epoch is a UTC day; in dev a few minutes. Numbers
come from the clock alone, so every coordinator replica agrees on them without talking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tensornode.errors import InvalidInput

_ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class EpochWindow:
    """An epoch's number and its half-open time window, in UTC."""

    number: int
    starts_at: datetime
    ends_at: datetime


def _check_length(epoch_seconds: int) -> None:
    if type(epoch_seconds) is not int or epoch_seconds < 1:
        raise InvalidInput(f"epoch_seconds must be a positive integer, got {epoch_seconds!r}")


def epoch_window(number: int, epoch_seconds: int) -> EpochWindow:
    """The window of epoch ``number``."""
    _check_length(epoch_seconds)
    if type(number) is not int or number < 0:
        raise InvalidInput(f"an epoch number is a non-negative integer, got {number!r}")
    try:
        start = _ORIGIN + timedelta(seconds=number * epoch_seconds)
        return EpochWindow(number, start, start + timedelta(seconds=epoch_seconds))
    except OverflowError:
        raise InvalidInput(f"epoch {number} lies beyond the calendar (year 9999)") from None


def epoch_at(moment: datetime, epoch_seconds: int) -> EpochWindow:
    """The epoch that contains ``moment`` (a timezone-aware datetime)."""
    _check_length(epoch_seconds)
    if moment.tzinfo is None:
        raise InvalidInput("epoch_at needs a timezone-aware datetime")
    elapsed = moment - _ORIGIN
    number = (elapsed // timedelta(seconds=1)) // epoch_seconds
    return epoch_window(number, epoch_seconds)


def last_finished_epoch(now: datetime, epoch_seconds: int) -> EpochWindow | None:
    """The newest epoch whose window has ended at ``now`` (the one to settle next)."""
    current = epoch_at(now, epoch_seconds)
    if current.number == 0:
        return None
    return epoch_window(current.number - 1, epoch_seconds)
