"""``tensornode wallet``: a dev wallet for the local network (create, show, balance, sign-in).

The key lives in ``<data dir>/wallet/key.json`` (0600, folder 0700) and is never printed
unless ``--show-private``. ``create`` registers it on a dev-mode coordinator, which funds
the new account from the local ledger's faucet; ``sign-in`` signs a challenge and keeps
the session token, which every later command against that coordinator sends as bearer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import typer

from tensornode.auth.signatures import KeyType
from tensornode.auth.signing import LocalSigner
from tensornode.cli import ledger as ledger_cmd
from tensornode.cli.api import CoordinatorOption
from tensornode.cli.common import cli_settings, console, fail, one_line_errors
from tensornode.cli.wallet_store import (
    StoredWallet,
    forget_session,
    key_path,
    load_session,
    load_wallet,
    save_session,
    save_wallet,
)
from tensornode.client import DEFAULT_URL, ApiError, CoordinatorClient
from tensornode.contracts.auth import ChallengePublic, RegistrationPublic, SessionPublic
from tensornode.errors import UpstreamError

app = typer.Typer(help="A dev wallet for the local network.", no_args_is_help=True)
T = TypeVar("T")


class KeyKind(StrEnum):
    ed25519 = "ed25519"
    ecdsa = "ecdsa"


def _run(coro: Coroutine[Any, Any, T]) -> T:
    with one_line_errors():
        return asyncio.run(coro)


async def _post(api: CoordinatorClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.request("POST", path, json=body)
    try:
        data = response.json()
    except ValueError:
        raise UpstreamError(f"the coordinator's answer to POST {path} is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamError(f"the coordinator's answer to POST {path} is not an object")
    return data


async def _register(coordinator: str, wallet: StoredWallet) -> RegistrationPublic:
    body: dict[str, Any] = {"publicKey": wallet.signer.public_key.hex}
    if wallet.account_id:
        body["accountId"] = wallet.account_id
    async with CoordinatorClient(coordinator) as api:
        return RegistrationPublic.model_validate(await _post(api, "/auth/register", body))


@app.command("create")
def create(
    key_type: Annotated[KeyKind, typer.Option(help="The key's algorithm.")] = KeyKind.ed25519,
    coordinator: CoordinatorOption = DEFAULT_URL,
) -> None:
    """Make a key, register it on a dev coordinator and get faucet funds."""
    settings = cli_settings()
    with one_line_errors():
        wallet = load_wallet(settings.data_dir)
    if wallet is not None and wallet.account_id:
        path = key_path(settings.data_dir)
        raise fail(f"a wallet already exists for account {wallet.account_id} ({path})")
    if wallet is None:  # a key whose registration failed earlier is registered again
        kind: KeyType = "ed25519" if key_type is KeyKind.ed25519 else "ecdsa_secp256k1"
        wallet = StoredWallet(LocalSigner.generate(kind), None, coordinator)
        with one_line_errors():
            save_wallet(settings.data_dir, wallet)
    done = _run(_register(coordinator, wallet))
    with one_line_errors():
        path = save_wallet(
            settings.data_dir, StoredWallet(wallet.signer, done.account_id, coordinator)
        )
    console.print(f"wallet created: account [bold]{done.account_id}[/bold] ({done.key_type})")
    console.print(f"public key: {done.public_key_der}")
    console.print(f"funded: {done.funded} {done.unit} (balance {done.balance})")
    console.print(f"key file: {path} (mode 0600)", highlight=False)


def _require_wallet() -> StoredWallet:
    settings = cli_settings()
    with one_line_errors():
        wallet = load_wallet(settings.data_dir)
    if wallet is None or not wallet.account_id:
        raise fail("no wallet yet: create one with `tensornode wallet create`")
    return wallet


@app.command("show")
def show(
    show_private: Annotated[
        bool, typer.Option("--show-private", help="Also print the private key.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print the wallet's account and public key (the private key only if asked)."""
    wallet = _require_wallet()
    key = wallet.signer.public_key
    info: dict[str, Any] = {
        "accountId": wallet.account_id,
        "keyType": key.type,
        "publicKey": key.hex,
        "publicKeyDer": key.der_hex,
        "coordinator": wallet.coordinator,
    }
    if show_private:
        info["privateKey"] = wallet.signer.private_raw.hex()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for name, value in info.items():
        typer.echo(f"{name}: {value}")


@app.command("balance")
def balance() -> None:
    """Print the wallet's balance on the local ledger."""
    wallet = _require_wallet()
    assert wallet.account_id is not None
    ledger_cmd.balance(wallet.account_id)


async def _sign_in(coordinator: str, wallet: StoredWallet) -> SessionPublic:
    assert wallet.account_id is not None
    async with CoordinatorClient(coordinator) as api:
        body = {"accountId": wallet.account_id}
        challenge = ChallengePublic.model_validate(await _post(api, "/auth/challenge", body))
        signature = wallet.signer.sign(challenge.message).hex()
        verify = {
            "accountId": wallet.account_id,
            "challengeId": challenge.challenge_id,
            "signature": signature,
        }
        return SessionPublic.model_validate(await _post(api, "/auth/verify", verify))


@app.command("sign-in")
def sign_in(coordinator: CoordinatorOption = DEFAULT_URL) -> None:
    """Sign a challenge from the coordinator; later commands use the session it gives."""
    settings = cli_settings()
    wallet = _require_wallet()
    session = _run(_sign_in(coordinator, wallet))
    with one_line_errors():
        save_session(
            settings.data_dir,
            coordinator=coordinator,
            account_id=session.account_id,
            token=session.token,
            expires_at=session.expires_at,
        )
    console.print(
        f"signed in to {coordinator} as [bold]{session.account_id}[/bold] until"
        f" {session.expires_at.isoformat()}",
        highlight=False,
    )


@app.command("sign-out")
def sign_out() -> None:
    """Revoke the stored session on its coordinator and forget it."""
    settings = cli_settings()
    with one_line_errors():
        session = load_session(settings.data_dir)
    if session is None:
        console.print("not signed in")
        return

    async def logout() -> None:
        url, token = str(session["coordinator"]), str(session["token"])
        async with CoordinatorClient(url, api_key=token) as api:
            try:
                await api.request("POST", "/auth/logout")
            except ApiError as exc:
                if exc.status != 401:  # 401: already expired or revoked, nothing to revoke
                    raise

    _run(logout())
    forget_session(settings.data_dir)
    console.print("signed out")
