"""``tensornode vm``: rent, list, inspect and release VMs through a coordinator's API."""

from __future__ import annotations

import json as json_module
from typing import Annotated

import typer
from rich.table import Table

from tensornode.cli.api import (
    ApiKeyOption,
    CoordinatorOption,
    JsonOption,
    WalletOption,
    print_json,
    run,
)
from tensornode.cli.common import console
from tensornode.client import DEFAULT_URL, CoordinatorClient
from tensornode.contracts.coordinator import DeploymentsPublic, VMPublic, VMsPublic

app = typer.Typer(help="Rent, list, inspect and release VMs.", no_args_is_help=True)

VmId = Annotated[str, typer.Argument(help="The VM's id (see `tensornode vm ls`).")]


@app.command("deploy")
def deploy(
    name: Annotated[str | None, typer.Option(help="The instance's name.")] = None,
    configuration: Annotated[
        str | None, typer.Option(help="A configuration slug, e.g. cpu-4-ram-8gb-storage-25gb.")
    ] = None,
    max_price: Annotated[
        str | None, typer.Option(help="Most USD per epoch you accept, e.g. 3.0.")
    ] = None,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Rent one VM (the guide's POST /deploy); prints its id."""

    async def action(api: CoordinatorClient) -> VMPublic:
        result = await api.deploy(name=name, configuration=configuration, max_price_usd=max_price)
        return result.vms[0]

    vm = run(coordinator, wallet, api_key, action)
    if json:
        print_json(vm)
    else:
        console.print(f"VM [bold]{vm.id}[/bold] ({vm.name}, {vm.configuration}) is {vm.status}")


@app.command("ls")
def ls(
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
    json: JsonOption = False,
) -> None:
    """List your VMs with their miners."""

    async def action(api: CoordinatorClient) -> VMsPublic:
        return await api.list_vms()

    vms = run(coordinator, wallet, api_key, action)
    if json:
        print_json(vms)
        return
    if not vms.data:
        console.print("no VMs (rent one with `tensornode vm deploy` or `tensornode deploy`)")
        return
    table = Table(box=None)
    table.add_column("ID", no_wrap=True)  # ids are copied into other commands: never broken
    for header in ("NAME", "STATUS", "MINER", "ENDPOINT", "USD/EPOCH"):
        table.add_column(header, overflow="fold")
    for vm in vms.data:
        table.add_row(
            vm.id,
            vm.name,
            vm.status,
            vm.deployment_state or "-",
            vm.endpoint or "-",
            str(vm.price_per_epoch_usd),
        )
    console.print(table)


@app.command("show")
def show(
    vm_id: VmId,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
    json: JsonOption = False,
) -> None:
    """Show a VM, its deployments and their events."""

    async def action(api: CoordinatorClient) -> tuple[VMPublic, DeploymentsPublic]:
        return await api.get_vm(vm_id), await api.deployments(vm_id)

    vm, deployments = run(coordinator, wallet, api_key, action)
    if json:
        both = {
            "vm": vm.model_dump(mode="json", by_alias=True),
            "deployments": deployments.model_dump(mode="json", by_alias=True),
        }
        typer.echo(json_module.dumps(both, indent=2))
        return
    rows = [
        ("id", vm.id),
        ("name", vm.name),
        ("status", vm.status + (f" ({vm.status_reason})" if vm.status_reason else "")),
        ("configuration", vm.configuration),
        ("price", f"{vm.price_per_epoch_usd} USD per epoch"),
        ("public IP", vm.public_ip or "-"),
        ("open ports", ", ".join(f"{p.port}/{p.protocol}" for p in vm.open_ports)),
        ("miner", vm.miner_id or "-"),
        ("endpoint", vm.endpoint or "-"),
        ("deployment", vm.deployment_state or "-"),
    ]
    for key, value in rows:
        console.print(f"[bold]{key:>13}[/bold]  {value}", highlight=False)
    for dep in deployments.data[:1]:
        console.print(f"\n[bold]deployment {dep.id}[/bold] ({dep.runtime}, {dep.state})")
        for event in dep.events:
            stamp = event.at.strftime("%Y-%m-%d %H:%M:%S")
            console.print(f"  {stamp}  {event.state:<10} {event.message}", highlight=False)


@app.command("logs")
def logs(
    vm_id: VmId,
    tail: Annotated[int, typer.Option(min=0, help="How many lines.")] = 200,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Print the VM's deployment log and its miner's output."""

    async def action(api: CoordinatorClient) -> str:
        return await api.vm_logs(vm_id, tail=tail)

    typer.echo(run(coordinator, wallet, api_key, action), nl=False)


@app.command("exec")
def exec_command(
    vm_id: VmId,
    command: Annotated[list[str], typer.Argument(help="The command and its arguments.")],
    timeout: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds before it is killed.")
    ] = None,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Run a command on your VM (as `tensornode vm exec ID -- docker ps`); prints its
    output and exits with its exit code. Every command is audit-logged."""

    async def action(api: CoordinatorClient) -> tuple[str, int]:
        result = await api.exec_on_vm(vm_id, command, timeout=timeout)
        return result.output, result.exit_code

    output, code = run(coordinator, wallet, api_key, action)
    typer.echo(output, nl=not output.endswith("\n") and bool(output))
    raise typer.Exit(code if 0 <= code < 256 else 1)


@app.command("stop")
def stop(
    vm_id: VmId,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Stop the VM's miner (the VM stays rented)."""

    async def action(api: CoordinatorClient) -> None:
        await api.stop_miner(vm_id)

    run(coordinator, wallet, api_key, action)
    console.print(f"stopped the miner on VM {vm_id}")


@app.command("rm")
def rm(
    vm_id: VmId,
    coordinator: CoordinatorOption = DEFAULT_URL,
    wallet: WalletOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Stop the VM's miner and terminate the VM."""

    async def action(api: CoordinatorClient) -> None:
        await api.delete_vm(vm_id)

    run(coordinator, wallet, api_key, action)
    console.print(f"terminated VM {vm_id}")
