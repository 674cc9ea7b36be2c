"""``tensornode scores MINER``, ``tensornode leaderboard``, ``tensornode rewards``.

Reads of public network data from a coordinator: a miner's score components with the
reasons behind them, the subnet's ranking in the running epoch, an account's rewards.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from tensornode.cli.api import (
    ApiKeyOption,
    CoordinatorOption,
    JsonOption,
    WalletOption,
    print_json,
    run,
)
from tensornode.cli.common import console, fail
from tensornode.client import DEFAULT_URL, CoordinatorClient
from tensornode.epochs.schemas import RewardsPublic
from tensornode.errors import UpstreamError
from tensornode.scoring.network.schemas import LeaderboardPublic, MinerScoresPublic

COMPONENTS = ("quality", "speed", "availability", "participation", "total")


async def _get(api: CoordinatorClient, model: Any, path: str, **params: Any) -> Any:
    response = await api.request(
        "GET", path, params={k: v for k, v in params.items() if v is not None}
    )
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError):
        raise UpstreamError(f"the coordinator's answer to GET {path} is malformed") from None


def scores(
    miner: Annotated[str, typer.Argument(help="The miner id.")],
    epoch: Annotated[
        int | None, typer.Option(min=0, help="Epoch (default: the running one).")
    ] = None,
    evidence: Annotated[int, typer.Option(min=0, max=500, help="Evidence rows to show.")] = 10,
    coordinator: CoordinatorOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """A miner's score components, the reasons behind them, and its latest evidence."""

    async def action(api: CoordinatorClient) -> MinerScoresPublic:
        result: MinerScoresPublic = await _get(
            api, MinerScoresPublic, f"/miners/{miner}/scores", epoch=epoch, limit=max(evidence, 1)
        )
        return result

    result = run(coordinator, None, None, action)
    if as_json:
        print_json(result)
        return
    current = result.current
    state = "settled" if current.final else "so far"
    table = Table(title=f"{result.name} ({result.subnet}) - epoch {current.epoch} {state}")
    for column in ("component", "score", "weight"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for name in COMPONENTS:
        weight = current.weights.get(name)
        table.add_row(
            name, f"{getattr(current, name):.3f}", "" if weight is None else f"{weight:g}"
        )
    console.print(table)
    console.print("why:", highlight=False)
    for line in current.why:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)
    if evidence and result.evidence.data:
        rows = Table(title=f"latest evidence ({result.evidence.count} in this epoch)")
        for column in ("at", "family", "verdict", "score", "latency", "reason"):
            rows.add_column(column)
        for e in result.evidence.data[:evidence]:
            latency = "-" if e.latency_s is None else f"{e.latency_s:.2f}s"
            rows.add_row(
                e.at.strftime("%H:%M:%S"),
                e.family,
                e.verdict,
                f"{e.score:.2f}",
                latency,
                e.reason[:60],
            )
        console.print(rows)
    if result.history:
        past = Table(title="settled epochs")
        for column in ("epoch", *COMPONENTS, "reward"):
            past.add_column(column, justify="right")
        for h in result.history:
            past.add_row(str(h.epoch), *(f"{getattr(h, c):.3f}" for c in COMPONENTS), str(h.reward))
        console.print(past)


def leaderboard(
    subnet: Annotated[str, typer.Option(help="The subnet.")] = "llm",
    epoch: Annotated[
        int | None, typer.Option(min=0, help="Epoch (default: the running one).")
    ] = None,
    coordinator: CoordinatorOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """The subnet's miners ranked by total score in one epoch (default: the running one)."""

    async def action(api: CoordinatorClient) -> LeaderboardPublic:
        board: LeaderboardPublic = await _get(
            api, LeaderboardPublic, "/leaderboard", subnet=subnet, epoch=epoch
        )
        return board

    board = run(coordinator, None, None, action)
    if as_json:
        print_json(board)
        return
    so_far = " so far" if epoch is None else ""
    table = Table(title=f"{board.subnet} leaderboard - epoch {board.epoch}{so_far}")
    for column in ("#", "miner", "name", *COMPONENTS):
        table.add_column(column, justify="left" if column in ("miner", "name") else "right")
    for row in board.data:
        table.add_row(
            str(row.rank), row.miner_id, row.name, *(f"{getattr(row, c):.3f}" for c in COMPONENTS)
        )
    console.print(table)


def rewards(
    account: Annotated[
        str | None, typer.Option(help="The account (default: --wallet / TENSORNODE_WALLET).")
    ] = None,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
    coordinator: CoordinatorOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """What an account earned per settled epoch, and its balance."""
    who = account or wallet
    if who is None:
        raise fail("name the account: --account 0.0.N (or --wallet / TENSORNODE_WALLET)")

    async def action(api: CoordinatorClient) -> RewardsPublic:
        result: RewardsPublic = await _get(api, RewardsPublic, "/rewards", account=who)
        return result

    result = run(coordinator, None, api_key, action)
    if as_json:
        print_json(result)
        return
    table = Table(title=f"rewards of {result.account} ({result.unit})")
    for column in ("epoch", "kind", "amount", "transaction"):
        table.add_column(column, justify="right" if column in ("epoch", "amount") else "left")
    for r in result.data:
        table.add_row(str(r.epoch), r.kind, str(r.amount), r.transaction_id or "-")
    console.print(table)
    console.print(
        f"total {result.total} {result.unit} over {result.count} payouts; "
        f"balance {result.balance} {result.unit}",
        highlight=False,
    )
