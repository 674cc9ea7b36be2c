"""Helpers shared by CLI groups: settings from the environment, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from tensornode.config import Settings, load_settings
from tensornode.errors import TensorNodeError
from tensornode.logs import configure_logging

console = Console()
err_console = Console(stderr=True)


def cli_settings(**overrides: object) -> Settings:
    settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level, settings.log_format)
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the Exit to raise."""
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn our errors into a one-line message and a non-zero exit."""
    try:
        yield
    except TensorNodeError as exc:
        raise fail(exc.message) from None
