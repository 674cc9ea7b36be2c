"""A synchronous engine and session factory for the ledger and epoch settlement.

The coordinator's own sessions are async; the ledger and :func:`settle_epoch` are
synchronous (as the Hedera SDK is), so the epoch scheduler runs them in a worker thread
on an engine built here from the same URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tensornode.errors import ConfigurationError, ServiceUnavailable, UpstreamError

_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL so readers never block the payer; a busy timeout so writers queue up
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def sync_engine(url: str | URL) -> Engine:
    """A blocking engine on SQLite or PostgreSQL (psycopg 3) for ``url``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _SYNC_DRIVERS:
        raise ConfigurationError(f"unsupported database {backend!r}: use sqlite or postgresql")
    engine = create_engine(parsed.set(drivername=_SYNC_DRIVERS[backend]), pool_pre_ping=True)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def lock_for_write(session: Session) -> None:
    """Take SQLite's write lock now, so a read-then-write transaction cannot deadlock.

    PostgreSQL needs nothing: its row locks and unique indexes serialise writers.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def database_errors(what: str) -> Iterator[None]:
    """SQLAlchemy's errors become ours; integrity errors pass through for the caller."""
    try:
        yield
    except IntegrityError:
        raise
    except OperationalError as exc:
        raise ServiceUnavailable(f"the {what} database is unavailable: {exc.orig}") from exc
    except SQLAlchemyError as exc:
        raise UpstreamError(f"the {what} database failed: {exc.__class__.__name__}") from exc
