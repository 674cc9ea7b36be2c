"""The Alembic migrations create the ledger and epoch tables the code expects."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from factories import DB_BACKENDS, database_url
from tensornode.config import RewardsSettings
from tensornode.db.session import migrate
from tensornode.epochs.clock import epoch_window
from tensornode.epochs.report import verify_epoch
from tensornode.epochs.settle import settle_epoch
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.local import LocalLedger


@pytest.mark.parametrize("backend", DB_BACKENDS)
def test_migrated_database_settles_an_epoch(backend: str, tmp_path: Path) -> None:
    with database_url(backend, tmp_path) as url:
        migrate(make_url(url))
        engine = sync_engine(url)
        try:
            tables = set(inspect(engine).get_table_names())
            assert {"ledger_accounts", "ledger_entries", "ledger_lines"} <= tables
            assert {"epochs", "epoch_reports"} <= tables
            sessions = session_factory(engine)
            ledger = LocalLedger(sessions)
            report = settle_epoch(
                sessions, ledger, epoch_window(1, 60), [], ["0.0.7"], RewardsSettings()
            )
            assert verify_epoch(report, None) == []
            assert ledger.balance("0.0.7") == RewardsSettings().emission_per_epoch * 20 // 100
            assert ledger.audit() == []
        finally:
            engine.dispose()
