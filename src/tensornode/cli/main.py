"""Entry point of the ``tensornode`` command; each group lives in its own module."""

from __future__ import annotations

import typer

from tensornode import __version__
from tensornode.cli import coordinator, epoch, hedera, ledger, miner
from tensornode.cli import deploy as deploy_cmd
from tensornode.cli import scores as scores_cmd
from tensornode.cli import up as up_cmd
from tensornode.cli import validator as validator_cmd
from tensornode.cli import vm as vm_cmd
from tensornode.cli import wallet as wallet_cmd

app = typer.Typer(
    name="tensornode",
    help="TensorNode: a decentralized AI inference network.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(miner.app, name="miner")
app.add_typer(coordinator.app, name="coordinator")
app.add_typer(epoch.app, name="epoch")
app.add_typer(ledger.app, name="ledger")
app.add_typer(hedera.app, name="hedera")
app.command("up")(up_cmd.up)
app.add_typer(vm_cmd.app, name="vm")
app.command("deploy")(deploy_cmd.deploy)
app.add_typer(wallet_cmd.app, name="wallet")
app.add_typer(validator_cmd.app, name="validator")
app.command("scores")(scores_cmd.scores)
app.command("leaderboard")(scores_cmd.leaderboard)
app.command("rewards")(scores_cmd.rewards)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
