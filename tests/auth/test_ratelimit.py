"""The sliding-window limiter, on an injected clock."""

from __future__ import annotations

import pytest

from tensornode.auth.ratelimit import SlidingWindowLimiter
from tensornode.errors import RateLimited


def test_window_slides_and_keys_are_separate() -> None:
    now = [100.0]
    limiter = SlidingWindowLimiter(2, 60.0, clock=lambda: now[0])
    limiter.hit("a", "account a")
    now[0] += 10
    limiter.hit("a", "account a")
    limiter.hit("b", "account b")  # another key has its own window
    with pytest.raises(RateLimited) as limited:
        limiter.hit("a", "account a")
    assert limited.value.retry_after == 50.0  # the first hit leaves the window at 160
    assert limited.value.message == "too many sign-in attempts for account a: try again in 50 s"
    now[0] = 160.0
    limiter.hit("a", "account a")  # the first hit has left the window
