"""``tensornode ledger balance ACCOUNT``: read the local ledger directly (no coordinator).

The database is the configured one (``TENSORNODE_DATABASE_URL``, else SQLite in the data
directory); its migrations are applied first, so a fresh data directory answers 0.
"""

from __future__ import annotations

from typing import Annotated

import typer

from tensornode.cli.common import cli_settings, one_line_errors
from tensornode.db.session import database_url, migrate
from tensornode.ledger.base import check_account
from tensornode.ledger.database import database_errors, session_factory, sync_engine
from tensornode.ledger.local import LocalLedger

app = typer.Typer(help="The local ledger.", no_args_is_help=True)


@app.command("balance")
def balance(
    account: Annotated[str, typer.Argument(help="A Hedera account id, e.g. 0.0.1001.")],
) -> None:
    """Print an account's balance in the smallest unit."""
    settings = cli_settings()
    with one_line_errors():
        check_account(account)
        url = database_url(settings)
        with database_errors("ledger"):
            migrate(url)
        engine = sync_engine(url)
        try:
            amount = LocalLedger(session_factory(engine)).balance(account)
        finally:
            engine.dispose()
    typer.echo(f"{amount} {settings.rewards.unit}")
