"""``tensornode epoch verify N``: fetch epoch reports from a coordinator and check them.

The reports come from ``GET /epochs/{n}`` (the report's canonical JSON); the check is
:func:`tensornode.epochs.report.verify_epoch`: both hashes, the link between the two
reports, and every payout recomputed from the published scores and split configuration.
Exit 0 when the epoch checks out, 1 with one line per problem otherwise.
"""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from pydantic import ValidationError

from tensornode.cli.api import CoordinatorOption
from tensornode.cli.common import one_line_errors
from tensornode.client import DEFAULT_URL
from tensornode.epochs.report import EpochReport, verify_epoch
from tensornode.errors import NotFound, UpstreamError

app = typer.Typer(help="Verify epoch reports.", no_args_is_help=True)


def fetch_report(client: httpx.Client, number: int) -> EpochReport | None:
    """Epoch ``number``'s report from the coordinator, or None when it has none."""
    try:
        response = client.get(f"/epochs/{number}")
    except httpx.HTTPError as exc:
        raise UpstreamError(f"cannot reach the coordinator at {client.base_url}: {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise UpstreamError(
            f"GET /epochs/{number} answered {response.status_code}: {response.text[:200]}"
        )
    try:
        return EpochReport.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UpstreamError(
            f"epoch {number}'s report is malformed: {where}: {first['msg']}"
        ) from exc


@app.command("verify")
def verify(
    number: Annotated[int, typer.Argument(min=0, help="The epoch number.")],
    coordinator: CoordinatorOption = DEFAULT_URL,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for each report.")
    ] = 30.0,
    hedera: Annotated[
        bool,
        typer.Option(
            "--hedera",
            help="Also check the score log topic (mirror node) and the transfers on Hedera.",
        ),
    ] = False,
) -> None:
    """Recompute an epoch's payouts and check its hash chain against the previous report."""
    if hedera:
        verify_with_hedera(number, coordinator, timeout)
        return
    with one_line_errors(), httpx.Client(base_url=coordinator, timeout=timeout) as client:
        report = fetch_report(client, number)
        if report is None:
            raise NotFound(f"epoch {number} has no report at {coordinator} (not settled yet?)")
        previous = None
        if report.previous_epoch is not None:
            previous = fetch_report(client, report.previous_epoch)
    problems = verify_epoch(report, previous)
    if problems:
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"epoch {number}: OK ({len(report.payouts)} payouts, {report.emission} "
        f"{report.config.unit}, hash {report.hash})"
    )


def verify_with_hedera(number: int, coordinator: str, timeout: float) -> None:
    """The ``--hedera`` check: see :mod:`tensornode.ledger.hedera.verify`."""
    from tensornode.cli.common import cli_settings
    from tensornode.cli.hedera import _mirror
    from tensornode.errors import ConfigurationError
    from tensornode.ledger.hedera.verify import verify_on_hedera

    settings = cli_settings().hedera
    with one_line_errors(), httpx.Client(base_url=coordinator, timeout=timeout) as client:
        if settings.topic_id is None:
            raise ConfigurationError("set TENSORNODE_HEDERA__TOPIC_ID (the score log topic)")
        mirror = _mirror(settings)
        try:
            messages = mirror.topic_messages(settings.topic_id)
            token = None if settings.currency == "HBAR" else settings.currency
            problems = verify_on_hedera(
                number, messages, lambda n: fetch_report(client, n), mirror, token
            )
        finally:
            mirror.close()
    if problems:
        for problem in problems:
            typer.echo(f"problem: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"epoch {number}: OK on Hedera (topic {settings.topic_id}: chain, report hash, "
        "payout root, transfers and validator registrations check out)"
    )
