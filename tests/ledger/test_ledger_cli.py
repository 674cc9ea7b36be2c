"""``tensornode ledger balance ACCOUNT`` reads the configured database's local ledger."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tensornode.cli.main import app
from tensornode.config import Settings
from tensornode.db.session import database_url
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.local import LocalLedger


def test_balance_of_a_fresh_and_a_funded_account(tmp_path: Path) -> None:
    env = {"TENSORNODE_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    fresh = runner.invoke(app, ["ledger", "balance", "0.0.5"], env=env)
    assert (fresh.exit_code, fresh.stdout) == (0, "0 tinybar\n")

    engine = sync_engine(database_url(Settings(data_dir=tmp_path)))
    try:
        LocalLedger(session_factory(engine)).mint("0.0.5", 1234, idempotency_key="cli-test")
    finally:
        engine.dispose()
    funded = runner.invoke(
        app, ["ledger", "balance", "0.0.5"], env={**env, "TENSORNODE_REWARDS__UNIT": "tTNO"}
    )
    assert (funded.exit_code, funded.stdout) == (0, "1234 tTNO\n")


def test_a_malformed_account_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["ledger", "balance", "bob"], env={"TENSORNODE_DATA_DIR": str(tmp_path)}
    )
    assert result.exit_code == 1
    assert result.stderr == "error: account must be a Hedera account id like 0.0.123, got 'bob'\n"
