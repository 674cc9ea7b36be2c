"""Engines, sessions and migrations: one :class:`Database` per process, built from Settings.

The coordinator works through async sessions (aiosqlite, psycopg 3); Alembic runs on a
synchronous engine of the same database, once, when the app starts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tensornode.config import Settings
from tensornode.errors import ConfigurationError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def database_url(settings: Settings) -> URL:
    """The configured URL, or SQLite in the data directory."""
    if settings.database_url:
        return make_url(settings.database_url)
    path = settings.ensure_data_dir() / "tensornode.db"
    return make_url(f"sqlite:///{path}")


def _with_driver(url: URL, drivers: dict[str, str]) -> URL:
    backend = url.get_backend_name()
    if backend not in drivers:
        raise ConfigurationError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return url.set(drivername=drivers[backend])


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # foreign keys (cascades) and WAL so the monitor and API can read while a job writes
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def migrate(url: URL) -> None:
    """Bring the database at ``url`` to the newest schema (synchronous)."""
    # alembic announces every plugin at INFO; a coordinator start should say nothing
    logging.getLogger("alembic").setLevel(logging.WARNING)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["sqlalchemy_url"] = _with_driver(url, _SYNC_DRIVERS)
    command.upgrade(cfg, "head")


class Database:
    """The coordinator's database: an async engine and a session factory."""

    def __init__(self, url: URL) -> None:
        self.url = url
        async_url = _with_driver(url, _ASYNC_DRIVERS)
        self.engine: AsyncEngine = create_async_engine(async_url, pool_pre_ping=True)
        if url.get_backend_name() == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(database_url(settings))

    def migrate(self) -> None:
        """Apply pending migrations (call before serving; blocking)."""
        migrate(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
