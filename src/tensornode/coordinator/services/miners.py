"""Miners: the public registry (with uptime and request figures), bring-your-own
registration behind ``miner check``, and what the monitor needs.

Miners are public network data (anyone may list them, as a network dashboard does);
only their owner may register or change them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from tensornode.contracts.coordinator import MinerCreate, MinerPublic
from tensornode.db.metrics import health_stats, record_probe, request_stats
from tensornode.db.models import Deployment, Miner, utcnow
from tensornode.db.session import Database
from tensornode.errors import Conflict, InvalidInput, NotFound
from tensornode.miner.check import check_miner
from tensornode.net.safe_fetch import Resolver, check_url_allowed, pinned_url
from tensornode.net.signing import RequestSigner

log = logging.getLogger(__name__)

MONITORED_STATUSES = ("active", "unhealthy")
"""Miners the monitor should probe: up now, or expected up and being brought back."""


class MinerCheckFailed(InvalidInput):
    """A miner did not pass ``miner check``; ``failures`` lists the failed checks."""

    status = 422

    def __init__(self, message: str, failures: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.failures = failures


@dataclass(frozen=True)
class ActiveMiner:
    """A miner the monitor probes, with what a restart needs."""

    miner_id: str
    endpoint: str
    kind: str  # managed | external
    vm_id: str | None
    deployment_id: str | None
    handle: str | None


class MinerService:
    """The miner registry."""

    def __init__(
        self,
        db: Database,
        http: httpx.AsyncClient,
        *,
        allow_private: bool,
        resolver: Resolver | None = None,
        signer: RequestSigner | None = None,
    ) -> None:
        """``allow_private``: accept endpoints on private or loopback addresses (dev mode);
        ``resolver``: DNS for endpoint names (tests stand in for it); ``signer``: the
        coordinator's request key, signing the registration check's chat requests as the
        network's own are (a miner refusing unsigned ones passes)."""
        self.db = db
        self.http = http
        self.allow_private = allow_private
        self.resolver = resolver
        self.signer = signer

    async def public(self, miner: Miner) -> MinerPublic:
        """A miner with its uptime, availability and request figures."""
        async with self.db.session() as session:
            reqs = await request_stats(session, miner.id)
            health = await health_stats(session, miner.id)
        uptime = None
        if miner.status == "active" and miner.started_at is not None:
            uptime = max(0.0, (utcnow() - miner.started_at).total_seconds())
        return MinerPublic(
            id=miner.id,
            name=miner.name,
            owner=miner.owner_id,
            kind=miner.kind,
            subnet=miner.subnet,
            vm_id=miner.vm_id,
            endpoint=miner.endpoint,
            status=miner.status,
            uptime_seconds=uptime,
            availability=health.availability,
            request_count=reqs.count,
            error_count=reqs.errors,
            avg_response_time_ms=reqs.avg_latency_ms,
            p95_response_time_ms=reqs.p95_latency_ms,
            restarts=miner.restarts,
            started_at=miner.started_at,
            last_probe_at=miner.last_probe_at,
            created_at=miner.created_at,
        )

    async def get(self, miner_id: str) -> Miner:
        async with self.db.session() as session:
            miner = await session.get(Miner, miner_id)
            if miner is None:
                raise NotFound(f"miner {miner_id} not found")
            return miner

    async def search(
        self,
        *,
        subnet: str | None = None,
        status: str | None = None,
        owner: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[Miner], int]:
        """Miners on the network, newest first, filtered as asked."""
        query = select(Miner)
        if subnet is not None:
            query = query.where(Miner.subnet == subnet)
        if status is not None:
            query = query.where(Miner.status == status)
        if owner is not None:
            query = query.where(Miner.owner_id == owner)
        async with self.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(query.subquery()))
            rows = await session.scalars(
                query.order_by(Miner.created_at.desc(), Miner.id).limit(limit).offset(offset)
            )
            return list(rows), int(count or 0)

    async def register(self, owner_id: str, body: MinerCreate) -> Miner:
        """Register a miner its owner runs, once it passes ``miner check``.

        An ``http`` endpoint given by name is resolved and checked once and registered
        under the checked address (:func:`pinned_url`): the miner check, the monitor, the
        validator and the gateway all connect there, never resolving the name again. The
        check's failures name what failed, never echo what the endpoint answered.
        """
        given = body.endpoint.strip().rstrip("/")
        vetted = await check_url_allowed(
            given, allow_private=self.allow_private, what="endpoint", resolver=self.resolver
        )
        endpoint = pinned_url(vetted)
        async with self.db.session() as session:
            taken = await session.scalar(
                select(Miner.id).where(
                    Miner.endpoint == endpoint, Miner.status.in_(MONITORED_STATUSES)
                )
            )
        if taken is not None:
            raise Conflict(f"{endpoint} is already registered as miner {taken}")
        report = await check_miner(
            endpoint, client=self.http, model_type=None, echo=False, signer=self.signer
        )
        if not report.ok:
            failures = [{"name": r.name, "reason": r.reason} for r in report.failures]
            summary = "; ".join(f"{f['name']}: {f['reason']}" for f in failures)
            raise MinerCheckFailed(f"miner check failed: {summary}", failures)
        miner = Miner(
            owner_id=owner_id,
            kind="external",
            name=body.name or given,
            subnet=body.subnet,
            endpoint=endpoint,
            status="active",
            restarts=0,
            started_at=utcnow(),
        )
        async with self.db.session() as session:
            session.add(miner)
        log.info("miner registered", extra={"miner_id": miner.id, "endpoint": endpoint})
        return miner

    async def deregister(self, miner_id: str) -> Miner:
        """Take an external miner off the network (managed ones stop with their VM)."""
        async with self.db.session() as session:
            miner = await session.get(Miner, miner_id)
            if miner is None:
                raise NotFound(f"miner {miner_id} not found")
            if miner.kind == "managed" and miner.vm_id is not None:
                raise Conflict(f"miner {miner_id} runs on VM {miner.vm_id}: stop it there")
            miner.status = "stopped"
            return miner

    # --- for the monitor -------------------------------------------------------------

    async def active_miners(self) -> list[ActiveMiner]:
        """Every miner that should be up now, with its endpoint."""
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(Miner, Deployment.running)
                    .outerjoin(Deployment, Deployment.id == Miner.deployment_id)
                    .where(Miner.status.in_(MONITORED_STATUSES))
                    .order_by(Miner.created_at)
                )
            ).all()
        return [
            ActiveMiner(
                miner_id=m.id,
                endpoint=m.endpoint,
                kind=m.kind,
                vm_id=m.vm_id,
                deployment_id=m.deployment_id,
                handle=(running or {}).get("handle"),
            )
            for m, running in rows
        ]

    async def set_status(self, miner_id: str, status: str) -> None:
        """Mark a miner ``active``, ``unhealthy``, ``stopped`` or ``failed``."""
        async with self.db.session() as session:
            miner = await session.get(Miner, miner_id)
            if miner is None:
                raise NotFound(f"miner {miner_id} not found")
            if status == "active" and miner.status != "active":
                miner.started_at = utcnow()
            miner.status = status

    async def record_probe(
        self, miner_id: str, *, ok: bool, latency_ms: float | None = None, error: str | None = None
    ) -> None:
        """Count one health probe (see :func:`tensornode.db.metrics.record_probe`)."""
        async with self.db.session() as session:
            await record_probe(session, miner_id, ok=ok, latency_ms=latency_ms, error=error)
