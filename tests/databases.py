"""Shared fixtures (a pytest plugin, see conftest.py): a migrated database on SQLite and
on PostgreSQL. A folder's conftest may define its own ``db_url`` or ``db`` instead."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from factories import DB_BACKENDS, database_url
from tensornode.db.session import Database


@pytest.fixture(params=DB_BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(make_url(db_url))
    database.migrate()
    try:
        yield database
    finally:
        await database.dispose()
