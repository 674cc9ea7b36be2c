"""``tensornode deploy --count N``: the miner guide's scaling loop as one command.

Rent N VMs (``POST /deploy``), wait until each is active (``GET /vms/{id}``), deploy the
miner on each (builtin by default, ``--dockerfile-url`` or ``--dockerfile PATH``), and
wait until every miner is healthy, with a progress bar per VM. A builtin or URL miner
rides along in ``POST /deploy`` and an uploaded Dockerfile is checked first, so a bad
miner is refused before any VM is rented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tensornode.cli.api import ApiKeyOption, CoordinatorOption, JsonOption, WalletOption, run
from tensornode.cli.common import console, err_console, fail
from tensornode.cli.fleet import FleetProgress, MinerSource, bring_up
from tensornode.client import DEFAULT_URL, CoordinatorClient
from tensornode.contracts.coordinator import VMsPublic


def deploy(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many miners.")] = 1,
    name: Annotated[
        str | None, typer.Option(help="Instance name (numbered when --count > 1).")
    ] = None,
    configuration: Annotated[
        str | None, typer.Option(help="A configuration slug, e.g. cpu-8-ram-16gb-storage-50gb.")
    ] = None,
    max_price: Annotated[
        str | None, typer.Option(help="Most USD per epoch per VM you accept, e.g. 3.0.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Builtin model spec (repeatable), default llm=tiny."),
    ] = None,
    dockerfile_url: Annotated[
        str | None, typer.Option(help="Build and run the Dockerfile at this URL.")
    ] = None,
    dockerfile: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="Upload this Dockerfile."),
    ] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="The miner's port.")] = 3000,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for every miner to be healthy.")
    ] = 600,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Deploy N VMs, each with a miner, and wait until all are healthy."""
    if dockerfile is not None and dockerfile_url is not None:
        raise fail("give --dockerfile or --dockerfile-url, not both")
    source = MinerSource(
        models=tuple(model or ("llm=tiny",)),
        dockerfile_url=dockerfile_url,
        dockerfile=dockerfile.read_bytes() if dockerfile is not None else None,
        dockerfile_name=dockerfile.name if dockerfile is not None else "Dockerfile",
        port=port,
    )
    progress = FleetProgress(err_console)

    async def action(api: CoordinatorClient) -> VMsPublic:
        created = await api.deploy(
            instances=count,
            name=name,
            configuration=configuration,
            max_price_usd=max_price,
            open_ports=[22, port],
            miner=source.inline(),
        )
        with progress.shown():
            vms = await bring_up(
                api, [vm.id for vm in created.vms], source, progress, timeout=timeout
            )
        return VMsPublic(data=vms, count=len(vms))

    if not json:
        err_console.print(f"deploying {count} x {source.describe()}", highlight=False)
    vms = run(coordinator, wallet, api_key, action)
    if json:
        typer.echo(vms.model_dump_json(by_alias=True, indent=2))
        return
    table = Table(box=None)
    table.add_column("NAME", overflow="fold")
    table.add_column("VM", no_wrap=True)
    table.add_column("ENDPOINT", no_wrap=True)
    table.add_column("USD/EPOCH")
    for vm in vms.data:
        table.add_row(vm.name, vm.id, vm.endpoint or "-", str(vm.price_per_epoch_usd))
    console.print(table)
    console.print(f"{vms.count} miner(s) healthy")
