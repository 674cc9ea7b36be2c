"""Options and glue shared by the CLI commands that talk to a coordinator over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from tensornode.cli.common import one_line_errors
from tensornode.cli.wallet_store import stored_session_token
from tensornode.client import CoordinatorClient

T = TypeVar("T")

CoordinatorOption = Annotated[
    str,
    typer.Option(
        "--coordinator",
        envvar="TENSORNODE_COORDINATOR_URL",
        help="The coordinator's URL.",
        show_default=True,
    ),
]
WalletOption = Annotated[
    str | None,
    typer.Option(
        "--wallet",
        envvar="TENSORNODE_WALLET",
        help="Your Hedera account id (0.0.N); accepted bare by a dev-mode coordinator.",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="TENSORNODE_API_KEY", help="An API key, sent as bearer."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def run(
    coordinator: str,
    wallet: str | None,
    api_key: str | None,
    action: Callable[[CoordinatorClient], Coroutine[Any, Any, T]],
) -> T:
    """Run ``action`` with a client; our errors become a one-line message and exit 1."""

    async def main() -> T:
        # without an API key, a session kept by `tensornode wallet sign-in` is the bearer
        bearer = api_key or stored_session_token(coordinator)
        async with CoordinatorClient(coordinator, wallet=wallet, api_key=bearer) as api:
            return await action(api)

    with one_line_errors():
        return asyncio.run(main())


def print_json(model: BaseModel) -> None:
    """A model as indented JSON on stdout (camelCase, as the API answers)."""
    typer.echo(model.model_dump_json(by_alias=True, indent=2))
