"""``tensornode miner``: serve the reference miner, check any miner, scaffold a miner project.

Each command lives in its own module and registers itself here.
"""

from __future__ import annotations

import typer

from tensornode.cli.miner_check import check, init
from tensornode.cli.miner_serve import serve

app = typer.Typer(help="Run, check and scaffold miners.", no_args_is_help=True)

app.command()(check)
app.command()(init)
app.command()(serve)
