"""``tensornode miner``: serve the reference miner, check any miner, scaffold a miner project.

Each command lives in its own module and registers itself here.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Run, check and scaffold miners.", no_args_is_help=True)
