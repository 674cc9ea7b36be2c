"""``tensornode coordinator validator add|remove|list``: the coordinator's validator registry.

Run on the coordinator's side (same database settings): only accounts registered here,
the coordinator's own in-process validator (``validator.account``) and those named in
``validator.accounts`` may submit rounds or use manual validation.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from sqlalchemy import select

from tensornode.cli.common import cli_settings, one_line_errors
from tensornode.config import Settings
from tensornode.coordinator.accounts import get_or_create_account, validate_wallet
from tensornode.db.models import utcnow
from tensornode.db.session import Database
from tensornode.errors import NotFound
from tensornode.scoring.network.models import ValidatorAccount

app = typer.Typer(help="Accounts allowed to validate.", no_args_is_help=True)
Account = Annotated[str, typer.Argument(help="The Hedera account id, e.g. 0.0.123456.")]


async def _registry(
    settings: Settings, action: str, account: str | None, note: str | None
) -> list[str]:
    db = Database.from_settings(settings)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            if action == "add" and account is not None:
                await get_or_create_account(session, account)
                if await session.get(ValidatorAccount, account) is None:
                    session.add(ValidatorAccount(account_id=account, note=note, added_at=utcnow()))
                return [account]
            if action == "remove" and account is not None:
                row = await session.get(ValidatorAccount, account)
                if row is None:
                    raise NotFound(f"account {account} is not in the validator registry")
                await session.delete(row)
                return [account]
            rows = await session.scalars(
                select(ValidatorAccount).order_by(ValidatorAccount.account_id)
            )
            return [r.account_id + (f"  ({r.note})" if r.note else "") for r in rows]
    finally:
        await db.dispose()


@app.command("add")
def add(
    account: Account,
    note: Annotated[str | None, typer.Option(help="Who this validator is.")] = None,
) -> None:
    """Allow ACCOUNT to validate (its API key may then submit rounds)."""
    settings = cli_settings()
    with one_line_errors():
        asyncio.run(_registry(settings, "add", validate_wallet(account), note and note[:200]))
    typer.echo(f"validator {account} added")


@app.command("remove")
def remove(account: Account) -> None:
    """Take ACCOUNT out of the validator registry."""
    settings = cli_settings()
    with one_line_errors():
        asyncio.run(_registry(settings, "remove", validate_wallet(account), None))
    typer.echo(f"validator {account} removed")


@app.command("list")
def list_validators() -> None:
    """Print every validator: the coordinator's own, the configured, the registered."""
    settings = cli_settings()
    with one_line_errors():
        registered = asyncio.run(_registry(settings, "list", None, None))
    typer.echo(f"{settings.validator.account}  (the coordinator's in-process validator)")
    for account in settings.validator.accounts:
        typer.echo(f"{account}  (validator.accounts setting)")
    for line in registered:
        typer.echo(line)
