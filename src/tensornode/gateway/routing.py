"""Which miner serves a request: pure logic over the candidates' live state.

Among the miners serving the model type that are not excluded (already tried for this
request), whose breaker allows a request and that have a free concurrency slot:

1. a miner whose cooldown is over gets the request as its one trial (half-open probe);
2. with probability ``exploration`` a uniformly random one among those scoring at least
   ``EXPLORE_FLOOR`` of the best (new and recovering miners get traffic even when slower
   than the rest; a miner whose answers fail gets none);
3. otherwise quality decides: only miners scoring at least ``QUALITY_BAND`` of the best
   ready score compete, and among them latency breaks the tie (*power of two choices*:
   two drawn at random, the lower ``latency EWMA * (in flight + 1)`` wins). A fast miner
   with poor answers never outbids a good one. A miner with no latency yet costs 0, so a
   new miner is tried at once and gets its figure.

Scores come from a :class:`ScoreSource` (the validator's totals, which graded user
traffic and quality gate: :mod:`tensornode.scoring.components`); until then, and for a
miner the validator has not scored yet, every miner weighs like the average.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tensornode.gateway.failover import Breaker

LATENCY_ALPHA = 0.3
"""Weight of the newest latency in the EWMA (about the last few requests)."""
QUALITY_BAND = 0.8
"""Miners within this share of the best score are equally good: latency decides."""
EXPLORE_FLOOR = 0.1
"""Exploration skips miners below this share of the best score (users get no junk)."""


class ScoreSource(Protocol):
    """Per-miner scores in [0, 1]; a miner missing from the map weighs like the average."""

    async def scores(self) -> Mapping[str, float]: ...


class EqualScores:
    """Every miner weighs the same (no validator scores yet)."""

    async def scores(self) -> Mapping[str, float]:
        return {}


@dataclass(eq=False)
class MinerCandidate:
    """A healthy miner as the router sees it: where it is, what it serves, how it does."""

    miner_id: str
    endpoint: str
    default_type: str
    model_types: frozenset[str]
    max_concurrency: int
    breaker: Breaker = field(default_factory=Breaker)
    score: float = 1.0
    inflight: int = 0
    latency_ewma_ms: float | None = None
    concurrency_known: bool = False

    def path_for(self, model_type: str) -> str:
        """The miner's chat route for a model type (its default type on ``/api/chat``)."""
        return "/api/chat" if model_type == self.default_type else f"/api/chat/{model_type}"

    def url_for(self, model_type: str) -> str:
        return self.endpoint + self.path_for(model_type)

    def observe_latency(self, latency_ms: float) -> None:
        if self.latency_ewma_ms is None:
            self.latency_ewma_ms = latency_ms
        else:
            self.latency_ewma_ms += LATENCY_ALPHA * (latency_ms - self.latency_ewma_ms)

    @property
    def has_slot(self) -> bool:
        return self.inflight < self.max_concurrency

    def cost(self) -> float:
        """Expected wait among equally good miners: latency times the queue ahead."""
        latency = self.latency_ewma_ms or 0.0
        return latency * (self.inflight + 1)


def choose(
    candidates: Sequence[MinerCandidate],
    *,
    now: float,
    rng: random.Random,
    exploration: float,
    exclude: Collection[str] = (),
) -> MinerCandidate | None:
    """The miner for the next request, or None when none may take one now."""
    ready = [
        c for c in candidates if c.miner_id not in exclude and c.has_slot and c.breaker.allows(now)
    ]
    if not ready:
        return None
    for candidate in ready:
        if candidate.breaker.wants_trial(now):
            return candidate
    if len(ready) == 1:
        return ready[0]
    best = max(c.score for c in ready)
    if rng.random() < exploration:
        return rng.choice([c for c in ready if c.score >= EXPLORE_FLOOR * best])
    good = [c for c in ready if c.score >= QUALITY_BAND * best]
    if len(good) == 1:
        return good[0]
    first, second = rng.sample(good, 2)
    return first if first.cost() <= second.cost() else second


def waiting_helps(
    candidates: Sequence[MinerCandidate], *, now: float, exclude: Collection[str] = ()
) -> bool:
    """Some untried miner is only full (not cooling down): a freed slot can serve us."""
    return any(
        c.miner_id not in exclude and not c.has_slot and c.breaker.allows(now) for c in candidates
    )
