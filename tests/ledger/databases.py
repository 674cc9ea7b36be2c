"""Database fixtures of the ledger and epoch tests.

PostgreSQL: one throwaway database per test session (skipped, saying why, when the
server is unreachable); SQLite: a file per test. The ledger and epoch tables are
dropped and created afresh for every test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table
from sqlalchemy.orm import Session, sessionmaker

from factories import DB_BACKENDS, database_url
from tensornode.db.models import Base
from tensornode.epochs.models import Epoch, EpochReportRow
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.local import LocalLedger
from tensornode.ledger.models import LedgerAccount, LedgerEntry, LedgerLine

TABLES: list[Table] = [
    model.__table__  # type: ignore[misc]
    for model in (LedgerAccount, LedgerEntry, LedgerLine, Epoch, EpochReportRow)
]


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database_url("postgresql", tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sync_engine(db_url)
    Base.metadata.drop_all(engine, tables=TABLES)
    Base.metadata.create_all(engine, tables=TABLES)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def ledger(sessions: sessionmaker[Session]) -> LocalLedger:
    return LocalLedger(sessions, dev_mode=True)
