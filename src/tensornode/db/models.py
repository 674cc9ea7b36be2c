"""SQLAlchemy 2 models of the coordinator's state.

    accounts ─┬─ api_keys                 hashed bearer credentials
              ├─ vms ── deployments ── deployment_events
              └─ miners ─┬─ miner_health      probes aggregated per miner and hour
                         └─ miner_requests    request metrics per miner and minute
                                              (count, errors, latency sum, histogram)

Money is never a float: prices are kept as the provider's decimal string (``DecimalString``).
Times are timezone-aware UTC (``UTCDateTime``), whatever the database keeps.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random 32-hex-digit id for VMs, deployments and miners."""
    return uuid.uuid4().hex


class DecimalString(TypeDecorator[Decimal]):
    """A Decimal stored as its exact string (SQLite has no decimal type)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else str(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Account(Base):
    """A Hedera account (``0.0.N``); created on first sight in dev mode."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    """A bearer credential; only its sha256 is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class VM(Base):
    """A VM rented from a provider for one account."""

    __tablename__ = "vms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(40))
    provider_vm_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    configuration: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    public_ip: Mapped[str | None] = mapped_column(String(100), nullable=True)
    open_ports: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    port_map: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    price_per_epoch_usd: Mapped[Decimal] = mapped_column(DecimalString)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    deployments: Mapped[list[Deployment]] = relationship(
        back_populates="vm", order_by="Deployment.created_at.desc()"
    )


class Deployment(Base):
    """One attempt to run a miner on a VM; at most one per VM is current."""

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    vm_id: Mapped[str] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), index=True)
    runtime: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # builtin | url | upload
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    port: Mapped[int] = mapped_column(Integer)
    public_port: Mapped[int] = mapped_column(Integer)
    models: Mapped[list[str]] = mapped_column(JSON, default=list)
    env: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    dockerfile: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    running: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    vm: Mapped[VM] = relationship(back_populates="deployments")
    events: Mapped[list[DeploymentEvent]] = relationship(
        back_populates="deployment", order_by="DeploymentEvent.id", cascade="all, delete-orphan"
    )


class DeploymentEvent(Base):
    """A state change of a deployment, with why."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)

    deployment: Mapped[Deployment] = relationship(back_populates="events")


class VMCommand(Base):
    """The audit log of commands run on VMs through ``POST /vms/{id}/exec``: who ran what,
    where, when, and how it ended. The output is not kept (it may hold secrets)."""

    __tablename__ = "vm_commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    vm_id: Mapped[str] = mapped_column(ForeignKey("vms.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(40), index=True)
    command: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: no exit
    outcome: Mapped[str] = mapped_column(String(20))  # exited | timed_out | failed
    duration_ms: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Miner(Base):
    """A model server on the network: deployed on a VM, or registered by its owner."""

    __tablename__ = "miners"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    vm_id: Mapped[str | None] = mapped_column(
        ForeignKey("vms.id", ondelete="SET NULL"), nullable=True, index=True
    )
    deployment_id: Mapped[str | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # managed | external
    name: Mapped[str] = mapped_column(String(100))
    subnet: Mapped[str] = mapped_column(String(40), default="llm", index=True)
    endpoint: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_probe_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_probe_ok: Mapped[bool | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MinerHealth(Base):
    """Health probes of one miner in one hour: how many, how many answered, latency sum."""

    __tablename__ = "miner_health"
    __table_args__ = (UniqueConstraint("miner_id", "window_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    miner_id: Mapped[str] = mapped_column(ForeignKey("miners.id", ondelete="CASCADE"))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    probes: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(default=0.0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class MinerRequests(Base):
    """Requests served by one miner in one minute, with a fixed-bucket latency histogram."""

    __tablename__ = "miner_requests"
    __table_args__ = (
        UniqueConstraint("miner_id", "window_start"),
        Index("ix_miner_requests_window", "window_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    miner_id: Mapped[str] = mapped_column(ForeignKey("miners.id", ondelete="CASCADE"))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms_sum: Mapped[float] = mapped_column(default=0.0)
    tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0004_gateway
    # counts per bucket of tensornode.db.metrics.LATENCY_BUCKETS_MS (last: above the top)
    buckets: Mapped[list[int]] = mapped_column(JSON, default=list)
