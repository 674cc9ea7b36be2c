"""``tensornode miner check URL`` and ``tensornode miner init DIR``.

``check`` runs :func:`tensornode.miner.check.check_miner` and prints a table of verdicts
(or the report as JSON); it exits 1 when a check fails or nothing answers at the URL.
``init`` writes a miner project for a user's own model (:mod:`tensornode.miner.scaffold`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tensornode.cli.common import console, err_console
from tensornode.contracts.miner_check import CheckReport, CheckStatus
from tensornode.errors import TensorNodeError
from tensornode.miner.check import check_miner
from tensornode.miner.scaffold import scaffold_miner

_STYLES = {CheckStatus.PASS: "green", CheckStatus.WARN: "yellow", CheckStatus.FAIL: "bold red"}


def check(
    url: Annotated[str, typer.Argument(help="The miner's base URL, e.g. http://203.0.113.7:3000")],
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for each answer.")
    ] = 30.0,
    requests: Annotated[
        int, typer.Option("--requests", "-n", min=1, help="Chat requests that sample latency.")
    ] = 3,
    model_type: Annotated[
        str | None, typer.Option(help="Also check POST /api/chat/<model-type>, e.g. llm.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON for machines.")
    ] = False,
) -> None:
    """Check a miner against the miner API contract: endpoints, shapes, errors, latency.

    A failure breaks the contract (exit 1); a warning is what a good miner should also do.
    """
    report = asyncio.run(
        check_miner(url, timeout=timeout, requests=requests, model_type=model_type)
    )
    if json_output:
        typer.echo(report.model_dump_json(indent=2))
    if not report.reachable:
        raise _one_line_error(report.results[0].reason)
    if not json_output:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _one_line_error(message: str) -> typer.Exit:
    """Print ``error: message`` on one line, however narrow the terminal; the Exit to raise."""
    err_console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(1)


def _print_report(report: CheckReport) -> None:
    table = Table(title=f"miner check {report.url}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("ms", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for r in report.results:
        style = _STYLES[r.status]
        ms = "" if r.latency_ms is None else f"{r.latency_ms:.0f}"
        table.add_row(r.name, Text(r.status.value, style=style), ms, Text(r.reason))
    console.print(table)
    passed = len(report.by_status(CheckStatus.PASS))
    summary = f"{passed} passed, {len(report.warnings)} warnings, {len(report.failures)} failed"
    if report.latency_p50_ms is not None:
        p50, p95 = report.latency_p50_ms, report.latency_p95_ms
        summary += f"; latency p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    console.print(summary, highlight=False)
    if report.ok:
        console.print("[green]the miner keeps the contract[/green]")
    else:
        names = ", ".join(r.name for r in report.failures)
        console.print(f"[bold red]the miner breaks the contract:[/bold red] {escape(names)}")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the miner project.")],
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory, replacing files.")
    ] = False,
) -> None:
    """Scaffold a miner project for your own model: Dockerfile, README, example backend."""
    try:
        written = scaffold_miner(directory, force=force)
    except TensorNodeError as exc:
        raise _one_line_error(exc.message) from None
    for path in written:
        console.print(f"wrote {escape(str(path))}", soft_wrap=True, highlight=False)
    backend, readme = escape(str(directory / "my_backend.py")), escape(str(directory / "README.md"))
    console.print(f"next: edit {backend}, then read {readme}", soft_wrap=True, highlight=False)
