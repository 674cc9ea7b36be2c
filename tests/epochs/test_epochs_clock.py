"""Epoch numbers come from the UTC clock alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tensornode.epochs.clock import EpochWindow, epoch_at, epoch_window, last_finished_epoch
from tensornode.errors import InvalidInput


def test_daily_epochs_are_utc_days() -> None:
    window = epoch_at(datetime(2026, 11, 25, 13, 50, tzinfo=UTC), 86_400)
    assert window == EpochWindow(
        20_782, datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 26, tzinfo=UTC)
    )


def test_boundaries_belong_to_the_epoch_they_start() -> None:
    start = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    assert epoch_at(start, 300).starts_at == start
    assert epoch_at(start - timedelta(microseconds=1), 300).ends_at == start


def test_other_time_zones_mean_the_same_instant() -> None:
    plus_two = datetime(2026, 11, 25, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    assert epoch_at(plus_two, 3_600) == epoch_at(datetime(2026, 11, 25, 0, 30, tzinfo=UTC), 3_600)


def test_last_finished_epoch_is_the_one_before_now() -> None:
    now = datetime(2026, 11, 25, 14, 7, tzinfo=UTC)
    assert last_finished_epoch(now, 300) == epoch_window(epoch_at(now, 300).number - 1, 300)
    assert last_finished_epoch(datetime(1970, 1, 1, 0, 0, 30, tzinfo=UTC), 60) is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(InvalidInput, match="timezone-aware"):
        epoch_at(datetime(2026, 1, 1), 60)
    with pytest.raises(InvalidInput, match="epoch_seconds must be a positive integer"):
        epoch_window(1, 0)
    with pytest.raises(InvalidInput, match="non-negative integer"):
        epoch_window(-1, 60)
