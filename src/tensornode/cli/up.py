"""``tensornode up``: a whole local network in one process, the README's first command.

It serves the coordinator in dev mode on loopback (uvicorn in this process; its lifespan
runs the monitor), makes sure N builtin miners on the tiny model run on local VMs owned
by a dev wallet, waits until they are healthy, and prints the URLs. A second ``up`` with
the same data directory reuses the VMs it finds there (their miners re-adopted by the
coordinator's start, or deployed again) instead of renting new ones.

Ctrl-C (SIGINT) or SIGTERM stops the monitor, then every miner (they run detached, in
sessions of their own, so the terminal's signal does not reach them), then the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from tensornode.cli.common import cli_settings, console, err_console, one_line_errors
from tensornode.cli.fleet import FleetProgress, MinerSource, bring_up
from tensornode.client import CoordinatorClient
from tensornode.config import Settings
from tensornode.contracts.coordinator import VMPublic
from tensornode.errors import ConfigurationError, TensorNodeError
from tensornode.scoring.network.runtime import with_dev_network_pace

log = logging.getLogger(__name__)

DEV_WALLET_FILE = "dev-wallet.json"
DEV_ACCOUNT = "0.0.2001"  # not a reserved ledger account (pool 0.0.1000, treasury 0.0.1001)
LIVE_VM_STATUSES = ("launching", "active")


def dev_wallet(data_dir: Path) -> str:
    """The dev wallet's account id, kept in the data directory (created on first use)."""
    path = data_dir / DEV_WALLET_FILE
    if path.exists():
        account = json.loads(path.read_text()).get("accountId")
        if not isinstance(account, str):
            raise ConfigurationError(f"{path} has no accountId")
        return account
    note = "dev wallet of `tensornode up`: a bare account id, accepted in dev mode only"
    path.write_text(json.dumps({"accountId": DEV_ACCOUNT, "note": note}, indent=2) + "\n")
    return DEV_ACCOUNT


def bind_loopback(port: int) -> socket.socket:
    """The coordinator's listening socket, bound now so a busy port fails at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): is another"
            " `tensornode up` running? Choose another port with --port"
        ) from None
    return sock


class EmbeddedServer(uvicorn.Server):
    """uvicorn without its own signal handling: ``up`` stops miners before the server."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def up(
    port: Annotated[int, typer.Option(min=1, max=65535, help="The coordinator's port.")] = 8000,
    miners: Annotated[int, typer.Option(min=0, help="How many local builtin miners.")] = 2,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where state lives (default ~/.tensornode).")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the miners to be healthy.")
    ] = 300,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO.")] = False,
) -> None:
    """Run a local network: coordinator, monitor and N builtin miners, until Ctrl-C."""
    settings = cli_settings(
        data_dir=data_dir, dev_mode=True, log_level=None if verbose else "WARNING"
    )
    settings = with_dev_network_pace(settings)  # 5-minute epochs, a round every 30 s
    with one_line_errors():
        settings.ensure_data_dir()
        sock = bind_loopback(port)
        try:
            ok = asyncio.run(_run(settings, sock, port, miners, timeout))
        finally:
            sock.close()
    if not ok:
        raise typer.Exit(1)


async def _run(
    settings: Settings, sock: socket.socket, port: int, count: int, timeout: float
) -> bool:
    """Serve until a signal; False when the miners could not be brought up."""
    from tensornode.coordinator.app import build_app
    from tensornode.coordinator.limits import server_options
    from tensornode.coordinator.server import server_config

    app = build_app(settings)
    server = EmbeddedServer(server_config(app, lifespan="on", **server_options(settings)))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    url = f"http://127.0.0.1:{port}"
    try:
        await _started(server, serving)
        wallet = dev_wallet(settings.data_dir)
        async with CoordinatorClient(url, wallet=wallet) as api:
            work = asyncio.create_task(_ensure_miners(api, count, timeout))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if not work.done():
                work.cancel()
                await asyncio.wait([work])
                return True
            try:
                vms = work.result()
            except TensorNodeError as exc:
                err_console.print(
                    f"[red]error:[/red] {exc.message}", highlight=False, soft_wrap=True
                )
                return False
        _print_urls(url, wallet, vms)
        await stop.wait()
        return True
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if server.started:
            err_console.print("stopping the miners and the coordinator...")
            await _stop_miners(app)
        server.should_exit = True
        await serving
        err_console.print("stopped")


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    """Wait until uvicorn serves (its lifespan migrated and recovered); fail if it died."""
    while not server.started:
        if serving.done():
            serving.result()
            raise ConfigurationError("the coordinator did not start (see the log above)")
        await asyncio.sleep(0.05)


async def _ensure_miners(api: CoordinatorClient, count: int, timeout: float) -> list[VMPublic]:
    """Reuse the dev wallet's live VMs, rent what is missing, bring all miners up."""
    live = [vm for vm in (await api.list_vms()).data if vm.status in LIVE_VM_STATUSES]
    live.sort(key=lambda vm: (vm.created_at, vm.id))
    keep = live[:count]
    taken = {vm.name for vm in live}
    source = MinerSource()
    number = 1
    while len(keep) < count:
        name = f"dev-miner-{number}"
        number += 1
        if name not in taken:
            keep.append((await api.deploy(name=name, miner=source.inline())).vms[0])
    if not keep:
        return []
    reused = min(len(live), count)
    err_console.print(
        f"{len(keep)} local miner(s) on the tiny model ({len(keep) - reused} new, {reused} reused)",
        highlight=False,
    )
    progress = FleetProgress(err_console)
    with progress.shown():
        return await bring_up(api, [vm.id for vm in keep], source, progress, timeout=timeout)


def _print_urls(url: str, wallet: str, vms: list[VMPublic]) -> None:
    lines = [
        "TensorNode local network is up",
        f"  coordinator  {url}",
        f"  dashboard    {url}/  (Miner tab: {url}/ui/miner)",
        f"  API docs     {url}/docs",
        f"  metrics      {url}/metrics",
        f"  dev wallet   {wallet}",
        *(f"  miner        {vm.endpoint}  ({vm.name}, VM {vm.id})" for vm in vms),
        "Press Ctrl-C to stop.",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


async def _stop_miners(app: FastAPI) -> None:
    """Stop the monitor (so it restarts nothing), then the miner of every live VM."""
    from tensornode.coordinator.core import Coordinator
    from tensornode.db.models import VM
    from tensornode.monitor.monitor import Monitor

    monitor: Monitor = app.state.monitor
    core: Coordinator = app.state.coordinator
    await monitor.close()
    async with core.db.session() as session:
        vm_ids = list(await session.scalars(select(VM.id).where(VM.status.in_(LIVE_VM_STATUSES))))
    for vm_id in vm_ids:
        try:
            await core.deployments.stop_vm_miner(
                vm_id, reason="tensornode up stopped", missing_ok=True
            )
        except TensorNodeError as exc:
            err_console.print(
                f"[red]error:[/red] VM {vm_id}: {exc.message}", highlight=False, soft_wrap=True
            )
