"""Migrations build the whole schema on both databases; money and time round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from tensornode.db.models import VM, Account
from tensornode.db.session import MIGRATIONS_DIR, Database

TABLES = {
    "accounts", "api_keys", "vms", "deployments", "deployment_events", "miners",
    "miner_health", "miner_requests", "alembic_version",
}  # fmt: skip


async def test_migrations_create_every_table_and_run_twice(db: Database) -> None:
    db.migrate()  # a second start finds nothing to do
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    assert tables >= TABLES
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert version == head


async def test_prices_and_times_round_trip_exactly(db: Database) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session:
        session.add(Account(id="0.0.7", created_at=created))
        session.add(
            VM(
                id="v1", owner_id="0.0.7", name="a", provider="local", configuration="c",
                status="active", open_ports=[], port_map={},
                price_per_epoch_usd=Decimal("0.1000000000000000055511151231257827"),
                created_at=created,
            )
        )  # fmt: skip
    async with db.session() as session:
        vm = await session.scalar(select(VM))
        account = await session.get(Account, "0.0.7")
    assert vm is not None and account is not None
    assert vm.price_per_epoch_usd == Decimal("0.1000000000000000055511151231257827")
    assert account.created_at == created
    assert account.created_at.tzinfo is not None
    assert account.created_at.astimezone(UTC).hour == 1


async def test_naive_datetimes_are_refused(db: Database) -> None:
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as session:
            session.add(Account(id="0.0.8", created_at=datetime(2026, 1, 1)))
