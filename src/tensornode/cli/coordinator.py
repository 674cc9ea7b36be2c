"""``tensornode coordinator``: serve the coordinator's API; ``apikey create`` for accounts.

Dev mode (``--dev`` or ``TENSORNODE_DEV_MODE``) accepts a bare ``walletAddress`` and
loopback URLs, so it is refused on any interface but loopback; outside dev mode, unsafe
settings (placeholder accounts, no ``auth.public_url``, the local provider without opt-in)
are refused before anything starts.
"""

from __future__ import annotations

import asyncio
import ipaddress

import typer

from tensornode.cli import validators_admin
from tensornode.cli.common import cli_settings, console, fail, one_line_errors
from tensornode.config import Settings

app = typer.Typer(
    help="Run the coordinator (REST API on port 8000) and manage its accounts.",
    invoke_without_command=True,
)
apikey = typer.Typer(help="API keys for non-dev callers.", no_args_is_help=True)
app.add_typer(apikey, name="apikey")
app.add_typer(validators_admin.app, name="validator")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.callback()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="interface to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    dev: bool = typer.Option(False, "--dev", help="dev mode: bare walletAddress, loopback only"),
) -> None:
    """Serve the coordinator API (OpenAPI docs at /docs)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = cli_settings(dev_mode=True if dev else None)
    if settings.dev_mode and not _is_loopback(host):  # --dev or TENSORNODE_DEV_MODE alike
        raise fail(f"dev mode listens on loopback only, not {host} (use --host 127.0.0.1)")
    with one_line_errors():
        settings.check_production()
        import uvicorn

        from tensornode.coordinator.app import build_app
        from tensornode.coordinator.limits import server_options
        from tensornode.coordinator.server import server_config

        application = build_app(settings)
        console.print(f"TensorNode coordinator on http://{host}:{port} (docs: /docs)")
        options = server_options(settings)
        uvicorn.Server(server_config(application, host=host, port=port, **options)).run()


@app.command("ssh-key")
def ssh_key() -> None:
    """Print the coordinator's SSH public key (made on first use; the private key stays in
    the data directory, mode 0600): add it to ~/.ssh/authorized_keys on your own hosts."""
    from tensornode.providers.ssh_keys import CoordinatorKey

    settings = cli_settings()
    with one_line_errors():
        typer.echo(CoordinatorKey.from_settings(settings).public_key)


@apikey.command("create")
def create_key(
    account: str = typer.Argument(help="the Hedera account id, e.g. 0.0.123456"),
) -> None:
    """Create an API key for ACCOUNT and print it (it is shown only once)."""
    settings = cli_settings()
    with one_line_errors():
        key = asyncio.run(_create_key(settings, account))
    typer.echo(key)


async def _create_key(settings: Settings, account: str) -> str:
    from tensornode.coordinator.accounts import create_api_key
    from tensornode.db.session import Database

    db = Database.from_settings(settings)
    try:
        await asyncio.to_thread(db.migrate)
        async with db.session() as session:
            return await create_api_key(session, account)
    finally:
        await db.dispose()
