"""Pure routing logic: choice, breaker, token bucket, prompt rendering."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from tensornode.errors import InvalidInput, RateLimited
from tensornode.gateway.failover import Breaker, BreakerState
from tensornode.gateway.ratelimit import RateLimiter
from tensornode.gateway.routing import MinerCandidate, choose
from tensornode.openai_compat import (
    ChatCompletionRequest,
    openai_error_body,
    render_prompt,
    to_chat_request,
)


def _miner(
    name: str, latency: float | None, *, score: float = 1.0, limit: int = 8
) -> MinerCandidate:
    candidate = MinerCandidate(name, f"http://{name}", "llm", frozenset({"llm"}), limit)
    candidate.latency_ewma_ms = latency
    candidate.score = score
    return candidate


def _picks(miners: list[MinerCandidate], n: int, exploration: float = 0.0) -> Counter[str]:
    rng = random.Random(7)
    return Counter(
        choose(miners, now=0.0, rng=rng, exploration=exploration).miner_id  # type: ignore[union-attr]
        for _ in range(n)
    )


def test_lower_latency_wins_and_exploration_keeps_a_share() -> None:
    fast, slow = _miner("fast", 10.0), _miner("slow", 200.0)
    assert _picks([fast, slow], 100) == {"fast": 100}
    explored = _picks([fast, slow], 2000, exploration=0.1)
    assert 50 <= explored["slow"] <= 150  # about half of the 10% random picks


def test_quality_decides_and_latency_only_breaks_ties() -> None:
    good, fast_junk = _miner("good", 500.0, score=0.9), _miner("junk", 5.0, score=0.5)
    assert _picks([good, fast_junk], 50) == {"good": 50}  # 100x faster, still no traffic
    close = _miner("close", 20.0, score=0.8)  # within the quality band of the best
    assert _picks([good, close], 50) == {"close": 50}  # equally good: the faster wins
    zero = _miner("zero", 1.0, score=0.0)
    assert _picks([good, zero], 500, exploration=0.5) == {"good": 500}  # never explored


def test_load_spreads_by_in_flight_count() -> None:
    a, b = _miner("a", 10.0), _miner("b", 15.0)
    a.inflight = 3
    assert _picks([a, b], 20) == {"b": 20}  # 10 x 4 costs more than 15 x 1


def test_full_excluded_and_cooling_miners_are_skipped() -> None:
    full, tried, cooling, free = (
        _miner(n, 1.0, limit=1) for n in ("full", "tried", "cool", "free")
    )
    full.inflight = 1
    cooling.breaker = Breaker(threshold=1, base_cooldown_s=10.0)
    cooling.breaker.on_failure(now=0.0)
    rng = random.Random(1)
    picks = {
        choose([full, tried, cooling, free], now=1.0, rng=rng, exploration=0.5, exclude={"tried"})
        for _ in range(30)
    }
    assert picks == {free}
    assert choose([full, cooling], now=1.0, rng=rng, exploration=0.0) is None


def test_new_miners_are_tried_first_and_a_recovered_one_gets_its_trial() -> None:
    known, new = _miner("known", 5.0), _miner("new", None)
    assert _picks([known, new], 1) == {"new": 1}
    recovering = _miner("recovering", 500.0)
    recovering.breaker = Breaker(threshold=1, base_cooldown_s=1.0)
    recovering.breaker.on_failure(now=0.0)
    rng = random.Random(3)
    assert choose([known, recovering], now=0.5, rng=rng, exploration=0.0) is known
    assert choose([known, recovering], now=1.0, rng=rng, exploration=0.0) is recovering


def test_breaker_opens_probes_and_backs_off_exponentially() -> None:
    breaker = Breaker(threshold=2, base_cooldown_s=1.0, cap_s=3.0)
    breaker.on_failure(0.0)
    assert breaker.state is BreakerState.CLOSED
    breaker.on_failure(0.0)
    assert (breaker.state, breaker.open_until) == (BreakerState.OPEN, 1.0)
    assert not breaker.allows(0.5) and breaker.allows(1.0)
    breaker.on_dispatch(1.0)  # the trial
    assert breaker.state is BreakerState.HALF_OPEN and not breaker.allows(1.0)
    breaker.on_failure(1.5)
    assert (breaker.state, breaker.open_until) == (BreakerState.OPEN, 3.5)  # 2 s
    breaker.on_dispatch(3.5)
    breaker.on_cancel()  # the user left: another trial may go
    assert breaker.allows(3.5)
    breaker.on_dispatch(3.5)
    breaker.on_failure(4.0)
    assert breaker.open_until == 7.0  # 4 s, capped at 3 s
    breaker.on_dispatch(7.0)
    breaker.on_success()
    assert (breaker.state, breaker.failures, breaker.openings) == (BreakerState.CLOSED, 0, 0)


def test_token_bucket_refills_and_says_when() -> None:
    now = [0.0]
    limiter = RateLimiter(6, clock=lambda: now[0])  # 6/min: one every 10 s, burst 6
    for _ in range(6):
        limiter.check("k")
    with pytest.raises(RateLimited) as over:
        limiter.check("k")
    assert over.value.retry_after == pytest.approx(10.0)
    limiter.check("other")  # buckets are per caller
    now[0] = 10.0
    limiter.check("k")
    limiter.check("fast", per_min=600)  # a key's own limit


def test_prompt_rendering() -> None:
    def request(messages: list[dict[str, object]]) -> ChatCompletionRequest:
        return ChatCompletionRequest.model_validate({"model": "llm", "messages": messages})

    lone = request([{"role": "user", "content": "hi"}])
    assert render_prompt(lone.messages) == "hi"
    chat = request(
        [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "again"},
        ]
    )
    assert render_prompt(chat.messages) == (
        "System: Be brief.\n\nUser: a\nb\n\nAssistant: ok\n\nUser: again\n\nAssistant:"
    )
    image = request([{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}])
    with pytest.raises(InvalidInput, match="only text content"):
        to_chat_request(image)
    body = ChatCompletionRequest.model_validate(
        {"model": "llm", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9,
         "max_completion_tokens": 5, "stop": "END", "seed": 1, "temperature": 0}
    )  # fmt: skip
    converted = to_chat_request(body)
    assert (converted.max_tokens, converted.stop, converted.seed, converted.temperature) == (
        5, ["END"], 1, 0.0,
    )  # fmt: skip


def test_openai_error_shape() -> None:
    assert openai_error_body(404, "model 'x' not found") == {
        "error": {"message": "model 'x' not found", "type": "invalid_request_error",
                  "code": "model_not_found", "param": None}
    }  # fmt: skip
    assert openai_error_body(502, "boom")["error"]["code"] == "upstream_error"
