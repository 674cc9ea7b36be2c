"""``tensornode hedera ...``: the network's score log topic and the operator's balance.

Settings come from ``TENSORNODE_HEDERA__*`` (network, nodes, mirror URL, operator id and
key or key file, currency, topic id). ``init`` creates the topic; its submit key is a
1-of-N threshold key over the operator's key, the ``--submit-key`` keys and the keys of
the ``--validator`` accounts (read from the mirror node).
"""

from __future__ import annotations

from typing import Annotated

import typer

from tensornode.cli.common import cli_settings, one_line_errors
from tensornode.config import HederaSettings
from tensornode.errors import ConfigurationError, NotFound
from tensornode.ledger.base import check_account
from tensornode.ledger.hedera.mirror import MirrorNode
from tensornode.ledger.hedera.operator import load_operator
from tensornode.ledger.hedera.score_log import ScoreLog, dump
from tensornode.ledger.hedera.transactions import HBAR

app = typer.Typer(help="Hedera: the score log topic, balances.", no_args_is_help=True)


def _mirror(settings: HederaSettings) -> MirrorNode:
    try:
        url = settings.mirror_base_url()
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    return MirrorNode(url, timeout=settings.mirror_timeout_s)


def _score_log(settings: HederaSettings) -> ScoreLog:
    return ScoreLog(settings, load_operator(settings), _mirror(settings))


def _typed_key(text: str) -> tuple[str, str]:
    key_type, _, hex_key = text.rpartition(":")
    return (key_type or "ED25519", hex_key)


@app.command("init")
def init(
    submit_key: Annotated[
        list[str] | None,
        typer.Option(help="Another public key that may write: HEX (ED25519) or TYPE:HEX."),
    ] = None,
    validator: Annotated[
        list[str] | None, typer.Option(help="A validator account whose key may write.")
    ] = None,
    memo: Annotated[str, typer.Option(help="The topic's memo.")] = "TensorNode score log",
) -> None:
    """Create the network's score log topic and print its id."""
    settings = cli_settings().hedera
    with one_line_errors():
        log = _score_log(settings)
        try:
            keys = [_typed_key(text) for text in submit_key or []]
            for account in validator or []:
                key = log.mirror.account_key(check_account(account))
                if key is None:
                    raise NotFound(f"validator account {account} is not on the mirror node")
                keys.append((key["_type"], key["key"]))
            topic = log.create_topic(keys, memo)
        finally:
            log.close()
    typer.echo(f"topic {topic} created ({len(keys) + 1} keys may write)")
    typer.echo(f"export TENSORNODE_HEDERA__TOPIC_ID={topic}")


@app.command("register-validator")
def register_validator(
    epoch: Annotated[int, typer.Argument(min=0, help="The epoch you validated.")],
    rounds: Annotated[int, typer.Option(min=1, help="Rounds you completed in it.")],
) -> None:
    """Publish, as the operator (your validator account), that you ran rounds in an epoch."""
    settings = cli_settings().hedera
    with one_line_errors():
        log = _score_log(settings)
        try:
            message = log.register_validator(epoch, rounds)
        finally:
            log.close()
    typer.echo(f"registered: {dump(message)}")


@app.command("balance")
def balance(account: Annotated[str, typer.Argument(help="A Hedera account id.")]) -> None:
    """An account's balance in the reward currency, from the mirror node."""
    settings = cli_settings().hedera
    with one_line_errors():
        mirror = _mirror(settings)
        try:
            token = None if settings.currency == HBAR else settings.currency
            amount = mirror.balance(check_account(account), token)
        finally:
            mirror.close()
    unit = "tinybar" if settings.currency == HBAR else f"units of {settings.currency}"
    typer.echo(f"{amount} {unit}")
