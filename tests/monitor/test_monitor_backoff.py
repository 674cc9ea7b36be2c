"""The restart backoff schedule: 5 s doubling to a 5 min cap."""

from __future__ import annotations

import pytest

from tensornode.monitor.backoff import Backoff


def test_default_schedule_doubles_from_5s_to_a_5min_cap() -> None:
    assert Backoff().schedule(9) == [5, 10, 20, 40, 80, 160, 300, 300, 300]


def test_a_long_outage_stays_at_the_cap() -> None:
    assert Backoff(base=5, cap=300).delay(10_000) == 300


def test_a_zero_base_restarts_at_once() -> None:
    assert Backoff(base=0, cap=300).schedule(3) == [0, 0, 0]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="count from 1"):
        Backoff().delay(0)


def test_a_shrinking_factor_is_refused() -> None:
    with pytest.raises(ValueError, match="factor >= 1"):
        Backoff(factor=0.5)
