"""The candidate set: healthy miners by model type, refreshed from the database.

Requests never read the database: :meth:`CandidatePool.refresh` (every
``refresh_interval_s`` in the background, or called directly in burst mode) reads the
miners the monitor keeps ``active``, their model types (the subnet, a managed miner's
deployed ``TYPE=BACKEND`` models, and what its ``/info`` lists) and their scores. A
miner's ``/info`` is read once when it first appears (and again every
``INFO_REFRESH_S``) for its ``max_concurrency`` and model list. A candidate keeps its
latency figure and breaker across refreshes while it stays healthy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable

from sqlalchemy import select

from tensornode.config import GatewaySettings
from tensornode.db.models import Deployment, Miner
from tensornode.db.session import Database
from tensornode.errors import ServiceUnavailable
from tensornode.gateway.failover import AttemptFailed, Breaker
from tensornode.gateway.routing import MinerCandidate, ScoreSource, choose, waiting_helps
from tensornode.gateway.upstream import Upstream

log = logging.getLogger(__name__)

HEALTHY_STATUS = "active"
"""The monitor keeps a miner ``active`` while its probes pass."""
INFO_REFRESH_S = 300.0
INFO_TIMEOUT_S = 5.0


class NoCandidate(Exception):
    """Every miner serving the type was tried or is cooling down (the request fails)."""


def _deployed_types(models: list[str] | None) -> list[str]:
    """``["llm=tiny", "code=hf:x"]`` → ``["llm", "code"]``."""
    return [m.split("=", 1)[0] for m in models or [] if "=" in m]


class CandidatePool:
    """Healthy miners by model type; acquire/release keep each one's in-flight count."""

    def __init__(
        self,
        db: Database,
        settings: GatewaySettings,
        upstream: Upstream,
        scores: ScoreSource,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.settings = settings
        self.upstream = upstream
        self.scores = scores
        self.rng = rng or random.Random()
        self.clock = clock
        self.candidates: dict[str, MinerCandidate] = {}
        self.by_type: dict[str, list[MinerCandidate]] = {}
        self._info: dict[str, tuple[float, int | None, list[str]]] = {}
        self._info_tasks: set[asyncio.Task[None]] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._task: asyncio.Task[None] | None = None

    # -- the candidate set ----------------------------------------------------------

    async def refresh(self) -> None:
        """Re-read healthy miners, their model types and scores (one pass)."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Miner.id, Miner.endpoint, Miner.subnet, Deployment.models)
                    .outerjoin(Deployment, Deployment.id == Miner.deployment_id)
                    .where(Miner.status == HEALTHY_STATUS)
                )
            ).all()
        scores = await self.scores.scores()
        average = sum(scores.values()) / len(scores) if scores else 1.0
        fresh: dict[str, MinerCandidate] = {}
        for miner_id, endpoint, subnet, models in rows:
            candidate = self._candidate(miner_id, endpoint.rstrip("/"), subnet, models)
            candidate.score = scores.get(miner_id, average)
            fresh[miner_id] = candidate
        self.candidates = fresh
        by_type: dict[str, list[MinerCandidate]] = {}
        for candidate in fresh.values():
            for model_type in candidate.model_types:
                by_type.setdefault(model_type, []).append(candidate)
        self.by_type = by_type
        for miner_id in set(self._info) - set(fresh):
            del self._info[miner_id]
        self._wake_waiters(everyone=True)

    def _candidate(
        self, miner_id: str, endpoint: str, subnet: str, models: list[str] | None
    ) -> MinerCandidate:
        deployed = _deployed_types(models)
        default_type = deployed[0] if deployed else subnet
        info = self._info.get(miner_id)
        if info is None or self.clock() - info[0] > INFO_REFRESH_S:
            self._info.setdefault(miner_id, (self.clock(), None, []))
            self._fetch_info_later(miner_id, endpoint)
        _, declared, listed = self._info[miner_id]
        types = frozenset([subnet, *deployed, *listed])
        limit = declared or self.settings.default_max_concurrency
        candidate = self.candidates.get(miner_id)
        if candidate is None or candidate.endpoint != endpoint:
            breaker = Breaker(
                threshold=self.settings.breaker_failures,
                base_cooldown_s=self.settings.breaker_cooldown_s,
                cap_s=self.settings.breaker_cooldown_cap_s,
            )
            return MinerCandidate(
                miner_id,
                endpoint,
                default_type,
                types,
                limit,
                breaker,
                concurrency_known=declared is not None,
            )
        candidate.default_type = default_type
        candidate.model_types = types
        candidate.max_concurrency = limit
        candidate.concurrency_known = declared is not None
        return candidate

    def _fetch_info_later(self, miner_id: str, endpoint: str) -> None:
        task = asyncio.get_running_loop().create_task(self._fetch_info(miner_id, endpoint))
        self._info_tasks.add(task)
        task.add_done_callback(self._info_tasks.discard)

    async def _fetch_info(self, miner_id: str, endpoint: str) -> None:
        """Learn a miner's declared concurrency and model list from its ``/info``."""
        try:
            status, body = await self.upstream.get_json(endpoint + "/info", timeout=INFO_TIMEOUT_S)
            info = json.loads(body) if status == 200 else None
        except (AttemptFailed, ValueError) as exc:
            log.debug("no /info from miner %s: %s", miner_id, exc)
            return
        if not isinstance(info, dict) or miner_id not in self._info:
            return
        declared = info.get("max_concurrency")
        models = info.get("models")
        self._info[miner_id] = (
            self.clock(),
            declared if isinstance(declared, int) and declared > 0 else None,
            [m for m in models if isinstance(m, str)] if isinstance(models, list) else [],
        )
        candidate = self.candidates.get(miner_id)
        if candidate is not None:  # apply now rather than at the next refresh
            _, limit, listed = self._info[miner_id]
            candidate.max_concurrency = limit or self.settings.default_max_concurrency
            candidate.concurrency_known = limit is not None
            candidate.model_types = candidate.model_types | frozenset(listed)
            for model_type in listed:
                members = self.by_type.setdefault(model_type, [])
                if candidate not in members:
                    members.append(candidate)
            self._wake_waiters(everyone=True)

    def model_types(self) -> list[str]:
        """Model types with at least one healthy miner, sorted."""
        return sorted(t for t, members in self.by_type.items() if members)

    # -- background refresh ---------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gateway-pool")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last known set
                log.warning("gateway candidate refresh failed: %s", exc, exc_info=exc)
            await asyncio.sleep(self.settings.refresh_interval_s)

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._info_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None

    # -- acquire and release --------------------------------------------------------

    def take(self, model_type: str, *, exclude: set[str]) -> MinerCandidate | None:
        """:meth:`acquire`'s usual case without awaiting: a miner with a free slot, or None.

        None says nothing more (no miner, all busy, all tried): :meth:`acquire` tells.
        """
        members = self.by_type.get(model_type)
        if not members:
            return None
        now = self.clock()
        chosen = choose(
            members, now=now, rng=self.rng, exploration=self.settings.exploration, exclude=exclude
        )
        if chosen is not None:
            chosen.inflight += 1
            chosen.breaker.on_dispatch(now)
        return chosen

    async def acquire(
        self, model_type: str, *, exclude: set[str], deadline: float
    ) -> MinerCandidate:
        """A miner for one attempt, its slot taken; waits while every one is only full.

        ServiceUnavailable when no healthy miner serves the type, or none frees a slot
        before the deadline; NoCandidate when every one was tried or is cooling down.
        """
        while True:
            members = self.by_type.get(model_type)
            if not members:
                raise ServiceUnavailable(
                    f"no healthy miner serves {model_type!r} right now", retry_after=5
                )
            now = self.clock()
            settings = self.settings
            chosen = choose(
                members, now=now, rng=self.rng, exploration=settings.exploration, exclude=exclude
            )
            if chosen is not None:
                chosen.inflight += 1
                chosen.breaker.on_dispatch(now)
                return chosen
            if not waiting_helps(members, now=now, exclude=exclude):
                raise NoCandidate(model_type)
            if now >= deadline:
                raise ServiceUnavailable(
                    f"every miner serving {model_type!r} is busy", retry_after=1
                )
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, timeout=deadline - now)
            except TimeoutError:
                continue  # the loop answers busy (or takes a slot freed just now)
            finally:
                if not waiter.done():
                    waiter.cancel()

    def release(self, candidate: MinerCandidate) -> None:
        """Give the attempt's slot back and let a waiting request try again."""
        candidate.inflight -= 1
        self._wake_waiters()

    def _wake_waiters(self, *, everyone: bool = False) -> None:
        """Wake the longest-waiting request (all of them when the set changed)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not everyone:
                    return
