"""FastAPI dependencies as ``Annotated`` aliases: the coordinator, the caller, ownership.

The caller is found by a list of credential resolvers kept on ``app.state`` (so wallet
signature sessions can be added without touching a handler): each returns an account
id, ``None`` when its credential is absent, or raises Unauthenticated when it is wrong.

- ``Authorization: Bearer <api key>``: looked up by sha256 in ``api_keys``.
- dev mode only: a bare ``walletAddress`` (``X-Wallet-Address`` header, query, or the
  JSON/form body; ``minerAddress`` too), its account created on first sight.

Dev mode also lets a request that names no wallet at all act on the VM in its path: the
VM id (128 random bits) is the capability, so the miner guide's script, which sends its
wallet only to ``POST /deploy``, works unchanged. A request that names another wallet
still gets 404.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Path, Request

from tensornode.coordinator.accounts import (
    account_for_api_key,
    get_or_create_account,
    validate_wallet,
)
from tensornode.coordinator.core import Coordinator
from tensornode.db.models import VM, Account, Miner
from tensornode.errors import NotFound, Unauthenticated

CredentialResolver = Callable[[Request, Coordinator], Awaitable[str | None]]
_WALLET_FIELDS = ("walletAddress", "wallet_address", "minerAddress", "miner_address")


def get_coordinator(request: Request) -> Coordinator:
    core: Coordinator = request.app.state.coordinator
    return core


CoordinatorDep = Annotated[Coordinator, Depends(get_coordinator)]


async def bearer_api_key(request: Request, core: Coordinator) -> str | None:
    """The account of an ``Authorization: Bearer`` API key."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization must be 'Bearer <api key>'")
    async with core.db.session() as session:
        account = await account_for_api_key(session, token.strip())
        return account.id


async def _wallet_in_body(request: Request) -> str | None:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return None  # FastAPI answers the malformed body itself (400)
    elif content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        body = dict((await request.form()).items())
    else:
        return None
    if not isinstance(body, dict):
        return None
    value = next((body[k] for k in _WALLET_FIELDS if body.get(k)), None)
    return value if isinstance(value, str) else None


async def dev_wallet(request: Request, core: Coordinator) -> str | None:
    """Dev mode: the account named by a bare ``walletAddress``."""
    if not core.settings.dev_mode:
        return None
    wallet = request.headers.get("x-wallet-address") or request.query_params.get("walletAddress")
    if wallet is None:
        wallet = await _wallet_in_body(request)
    if wallet is None:
        return None
    wallet = validate_wallet(wallet)
    async with core.db.session() as session:
        await get_or_create_account(session, wallet)
    return wallet


DEFAULT_RESOLVERS: tuple[CredentialResolver, ...] = (bearer_api_key, dev_wallet)


async def resolve_caller(request: Request, core: Coordinator) -> Account | None:
    """The caller's account from the first resolver that recognises a credential, or None."""
    resolvers: list[CredentialResolver] = request.app.state.credential_resolvers
    for resolve in resolvers:
        account_id = await resolve(request, core)
        if account_id is not None:
            async with core.db.session() as session:
                account = await session.get(Account, account_id)
            if account is None:
                raise Unauthenticated("unknown account")
            return account
    return None


def _no_credential(core: Coordinator) -> Unauthenticated:
    if core.settings.dev_mode:
        return Unauthenticated(
            "walletAddress required: send it in the body, the query or the X-Wallet-Address header"
        )
    return Unauthenticated("authentication required: send Authorization: Bearer <api key>")


async def current_account(request: Request, core: CoordinatorDep) -> Account:
    """The caller's account; 401 without a credential."""
    account = await resolve_caller(request, core)
    if account is None:
        raise _no_credential(core)
    return account


CurrentAccount = Annotated[Account, Depends(current_account)]


async def vm_owned_by_caller(
    vm_id: Annotated[str, Path(max_length=64)], request: Request, core: CoordinatorDep
) -> VM:
    """The VM in the path if the caller owns it; anyone else's is 404, like an absent one.

    In dev mode a caller naming no wallet holds the VM id as its capability (see above).
    """
    account = await resolve_caller(request, core)
    if account is None:
        if not core.settings.dev_mode:
            raise _no_credential(core)
        return await core.vms.get(vm_id)
    return await core.vms.get(vm_id, owner_id=account.id)


OwnedVM = Annotated[VM, Depends(vm_owned_by_caller)]


async def miner_owned_by_caller(
    miner_id: Annotated[str, Path(max_length=64)], account: CurrentAccount, core: CoordinatorDep
) -> Miner:
    """The miner in the path if the caller owns it (reads of miners are public)."""
    miner = await core.miners.get(miner_id)
    if miner.owner_id != account.id:
        raise NotFound(f"miner {miner_id} not found")
    return miner


OwnedMiner = Annotated[Miner, Depends(miner_owned_by_caller)]
