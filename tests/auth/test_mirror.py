"""The mirror node key source, against the fake mirror node (tests/fakes/mirror_node.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from coordinator.conftest import client_for
from factories import new_wallet
from fakes.mirror_node import FakeMirrorNode
from tensornode.auth.mirror import MirrorKeySource, MirrorNodeClient
from tensornode.errors import InvalidInput, Unauthenticated, UpstreamError

from .conftest import AppFactory, auth_of, sign_in
from .wallets import EcdsaWallet, Ed25519Wallet

MIRROR = "https://mirror.test"


@pytest.fixture
def mirror() -> FakeMirrorNode:
    return FakeMirrorNode()


@pytest.fixture
async def http(mirror: FakeMirrorNode) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=mirror.transport()) as client:
        yield client


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_single_keys_are_read(mirror: FakeMirrorNode, http: httpx.AsyncClient) -> None:
    ed, ecdsa = Ed25519Wallet(), EcdsaWallet()
    mirror.add("0.0.5001", "ED25519", ed.public_hex)
    mirror.add("0.0.5002", "ECDSA_SECP256K1", ecdsa.public_hex)
    client = MirrorNodeClient(MIRROR, http=http)
    first = await client.account_key("0.0.5001")
    second = await client.account_key("0.0.5002")
    assert (first.type, first.hex) == ("ed25519", ed.public_hex)
    assert (second.type, second.hex) == ("ecdsa_secp256k1", ecdsa.public_hex)


async def test_unknown_and_malformed_accounts(
    mirror: FakeMirrorNode, http: httpx.AsyncClient
) -> None:
    client = MirrorNodeClient(MIRROR, http=http)
    with pytest.raises(Unauthenticated) as missing:
        await client.account_key("0.0.404")
    assert missing.value.message == (
        "account 0.0.404 does not exist on the Hedera network (mirror node: Not found)"
    )
    with pytest.raises(InvalidInput) as malformed:
        await client.account_key("0.0.x")
    assert malformed.value.message == (
        "the mirror node refused account id '0.0.x': Invalid parameter: idOrAliasOrEvmAddress"
    )


async def test_threshold_keys_are_refused_clearly(
    mirror: FakeMirrorNode, http: httpx.AsyncClient
) -> None:
    # a 1-of-2 threshold key, protobuf-encoded as the mirror node returns it
    mirror.add("0.0.5003", "ProtobufEncoded", "2a4c08011248" + "0a221220" + "11" * 32)
    client = MirrorNodeClient(MIRROR, http=http)
    with pytest.raises(Unauthenticated) as refused:
        await client.account_key("0.0.5003")
    assert refused.value.message == (
        "account 0.0.5003 is controlled by a threshold key or key list (ProtobufEncoded):"
        " sign-in needs an account with a single ED25519 or ECDSA secp256k1 key"
    )


async def test_keys_are_cached_for_the_ttl(mirror: FakeMirrorNode, http: httpx.AsyncClient) -> None:
    mirror.add("0.0.5004", "ED25519", Ed25519Wallet().public_hex)
    clock = Clock()
    client = MirrorNodeClient(MIRROR, http=http, cache_ttl_s=60, clock=clock)
    await client.account_key("0.0.5004")
    await client.account_key("0.0.5004")
    assert mirror.requests == ["0.0.5004"]  # the second answer came from the cache
    clock.now += 61
    await client.account_key("0.0.5004")
    assert mirror.requests == ["0.0.5004", "0.0.5004"]


async def test_an_unreachable_mirror_is_an_upstream_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        client = MirrorNodeClient(MIRROR, http=http)
        with pytest.raises(UpstreamError, match="cannot be reached"):
            await client.account_key("0.0.5005")


@pytest.mark.parametrize("make_wallet", [Ed25519Wallet, EcdsaWallet])
async def test_sign_in_with_a_mirror_node_key(
    make_app: AppFactory,
    mirror: FakeMirrorNode,
    http: httpx.AsyncClient,
    make_wallet: type[Ed25519Wallet] | type[EcdsaWallet],
) -> None:
    wallet = make_wallet()
    account = new_wallet()
    mirror.add(account, wallet.mirror_type, wallet.public_hex)
    async with make_app(dev_mode=False, key_source="mirror", mirror_url=MIRROR) as app:
        assert isinstance(auth_of(app).keys, MirrorKeySource)  # what the settings chose
        auth_of(app).keys = MirrorKeySource(MirrorNodeClient(MIRROR, http=http))
        async with client_for(app) as client:
            resp = await sign_in(client, wallet, account)
            assert resp.status_code == 200, resp.text
            assert resp.json()["accountId"] == account
            register = await client.post("/auth/register", json={"publicKey": wallet.public_hex})
            assert register.status_code == 403
    assert mirror.requests == [account]  # the challenge fetched it; verify hit the cache
