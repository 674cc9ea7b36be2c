"""``tensornode validator run``: a validator in its own process, against a coordinator.

It signs in with an API key of an account the coordinator registered as a validator
(``tensornode coordinator validator add ACCOUNT`` on the coordinator's side), probes
the miners the coordinator lists, and submits each round (see scoring/network/remote.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.table import Table

from tensornode.cli.api import ApiKeyOption, CoordinatorOption, WalletOption
from tensornode.cli.common import cli_settings, console, one_line_errors
from tensornode.cli.wallet_store import stored_session_token
from tensornode.client import DEFAULT_URL, CoordinatorClient
from tensornode.scoring.network.remote import run_validator
from tensornode.scoring.network.schemas import RoundPublic

app = typer.Typer(help="Validate miners: probe them and submit rounds.", no_args_is_help=True)


def round_table(result: RoundPublic) -> Table:
    """A stored round's per-miner outcome (the coordinator's grading)."""
    table = Table(
        title=f"round {result.round_id} ({result.subnet}, {result.challenges} challenges)"
    )
    for column in ("miner", "answered", "passed", "quality"):
        table.add_column(column, justify="left" if column == "miner" else "right")
    for miner in result.miners:
        table.add_row(
            miner.miner_id,
            f"{miner.answered}/{miner.probes}",
            f"{miner.passed}/{miner.probes}",
            f"{miner.quality:.2f}",
        )
    return table


@app.command("run")
def run(
    coordinator: CoordinatorOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
    wallet: WalletOption = None,
    subnet: Annotated[
        list[str] | None, typer.Option("--subnet", help="Subnet to validate (repeatable).")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One round per subnet, then exit.")] = False,
    interval: Annotated[
        float | None, typer.Option(min=1, help="Seconds between rounds (default: settings).")
    ] = None,
) -> None:
    """Probe the coordinator's miners and submit rounds, once or on an interval."""
    settings = cli_settings()
    subnets = subnet or settings.validator.subnets
    pause = interval or settings.validator.round_interval_s

    def report(name: str, result: RoundPublic | None) -> None:
        if result is None:
            console.print(f"subnet {name}: no miners to validate", highlight=False)
        else:
            console.print(round_table(result))

    async def main() -> None:
        bearer = api_key or stored_session_token(coordinator)
        async with CoordinatorClient(coordinator, wallet=wallet, api_key=bearer) as api:
            await run_validator(
                api,
                subnets,
                once=once,
                interval_s=pause,
                concurrency=settings.validator.concurrency,
                on_round=report,
            )

    with one_line_errors():
        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            console.print("stopped")
