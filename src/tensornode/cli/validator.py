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
from tensornode.config import Settings
from tensornode.db.models import utcnow
from tensornode.errors import ConfigurationError, TensorNodeError
from tensornode.ledger.hedera.score_log import EpochRegistrar
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
    hedera: Annotated[
        bool,
        typer.Option(
            "--hedera",
            help="Register on the Hedera score log for each epoch you run rounds in "
            "(TENSORNODE_HEDERA__*; the operator is your validator account).",
        ),
    ] = False,
) -> None:
    """Probe the coordinator's miners and submit rounds, once or on an interval."""
    settings = cli_settings()
    subnets = subnet or settings.validator.subnets
    pause = interval or settings.validator.round_interval_s
    with one_line_errors():
        registrar = hedera_registrar(settings) if hedera else None

    def report(name: str, result: RoundPublic | None) -> None:
        if result is None:
            console.print(f"subnet {name}: no miners to validate", highlight=False)
            return
        console.print(round_table(result))
        if registrar is not None:
            try:
                registrar.round_completed(utcnow())
            except TensorNodeError as exc:  # the next round tries again
                console.print(f"[red]registration on Hedera failed:[/red] {exc.message}")

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
        finally:
            if registrar is not None:
                registrar.log.close()


def hedera_registrar(settings: Settings) -> EpochRegistrar:
    """Registrations on the score log, as the configured Hedera operator."""
    from tensornode.cli.hedera import _score_log

    if settings.hedera.topic_id is None:
        raise ConfigurationError("--hedera needs TENSORNODE_HEDERA__TOPIC_ID (the score log)")
    return EpochRegistrar(_score_log(settings.hedera), settings.rewards.epoch_seconds)
