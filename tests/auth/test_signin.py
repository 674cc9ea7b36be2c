"""Challenge -> verify against a real coordinator app: keys made at run time, both curves."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from coordinator.conftest import client_for
from factories import new_wallet
from tensornode.auth.models import AuthSession
from tensornode.db.models import utcnow

from .conftest import AppFactory, auth_of, challenge, register, sign_in
from .wallets import EcdsaWallet, Ed25519Wallet, Wallet, signature_map, wallet_bytes

WALLETS = [pytest.param(Ed25519Wallet, id="ed25519"), pytest.param(EcdsaWallet, id="ecdsa")]


@pytest.mark.parametrize("make_wallet", WALLETS)
async def test_sign_in_with_an_emoji_network_name(
    make_app: AppFactory, db_url: str, make_wallet: type[Wallet]
) -> None:
    wallet = make_wallet()
    async with make_app(db_url=db_url, network_name="TensorNode \U0001f680") as app:
        account = await register(app, wallet)
        async with client_for(app) as client:
            issued = await challenge(client, account)
            message = issued["message"]
            assert message.startswith("TensorNode \U0001f680 wants you to sign in")
            assert f"\n{account}\n" in message
            assert "URI: http://127.0.0.1\n" in message
            assert "Nonce: " in message and "Expiration Time: " in message
            # the length prefix counts the rocket as 2 UTF-16 units
            assert wallet_bytes(message).startswith(
                f"\x19Hedera Signed Message:\n{len(message) + 1}".encode()
            )
            resp = await client.post(
                "/auth/verify",
                json={
                    "account_id": account,
                    "challenge_id": issued["challengeId"],
                    "signature": base64.b64encode(wallet.sign(message)).decode(),
                    "public_key": wallet.public_der,
                },
            )
            assert resp.status_code == 200, resp.text
            session = resp.json()
            assert session["accountId"] == account and session["tokenType"] == "bearer"
            assert session["token"].startswith("tns_")
            bearer = {"Authorization": f"Bearer {session['token']}"}
            who = await client.get("/auth/session", headers=bearer)
            assert (who.status_code, who.json()["accountId"], who.json()["via"]) == (
                200,
                account,
                "bearer",
            )
        async with auth_of(app).db.session() as db:
            stored = (await db.scalars(select(AuthSession))).all()
        assert [row.account_id for row in stored] == [account]
        assert session["token"] not in {stored[0].token_hash, stored[0].csrf_hash}


async def test_cookies_are_httponly_lax_and_not_secure_in_dev(
    dev_app: FastAPI, client: httpx.AsyncClient
) -> None:
    wallet = Ed25519Wallet()
    account = await register(dev_app, wallet)
    resp = await sign_in(client, wallet, account)
    cookies = {c.split("=", 1)[0]: c.lower() for c in resp.headers.get_list("set-cookie")}
    assert "httponly" in cookies["tn_session"] and "samesite=lax" in cookies["tn_session"]
    assert "httponly" not in cookies["tn_csrf"] and "samesite=lax" in cookies["tn_csrf"]
    assert "secure" not in cookies["tn_session"]
    assert "max-age=43200" in cookies["tn_session"]  # the 12 h default
    assert resp.headers["cache-control"] == "no-store"


async def test_signing_by_message_text_works(dev_app: FastAPI, client: httpx.AsyncClient) -> None:
    wallet = EcdsaWallet()
    account = await register(dev_app, wallet)
    issued = await challenge(client, account)
    resp = await client.post(
        "/auth/verify",
        json={
            "accountId": account,
            "message": issued["message"],
            "signature": wallet.sign_der(issued["message"]).hex(),
        },
    )
    assert resp.status_code == 200, resp.text


async def test_walletconnect_signature_map_is_accepted(
    dev_app: FastAPI, client: httpx.AsyncClient
) -> None:
    wallet = Ed25519Wallet()
    account = await register(dev_app, wallet)
    issued = await challenge(client, account)
    sig_map = signature_map(bytes.fromhex(wallet.public_hex), wallet.sign(issued["message"]), 3)
    resp = await client.post(
        "/auth/verify",
        json={
            "accountId": account,
            "challengeId": issued["challengeId"],
            "signature": base64.b64encode(sig_map).decode(),
        },
    )
    assert resp.status_code == 200, resp.text


async def test_replayed_challenge_is_refused(dev_app: FastAPI, client: httpx.AsyncClient) -> None:
    wallet = Ed25519Wallet()
    account = await register(dev_app, wallet)
    issued = await challenge(client, account)
    body = {
        "accountId": account,
        "challengeId": issued["challengeId"],
        "signature": wallet.sign(issued["message"]).hex(),
    }
    assert (await client.post("/auth/verify", json=body)).status_code == 200
    replay = await client.post("/auth/verify", json=body)
    assert (replay.status_code, replay.json()) == (
        401,
        {"error": "challenge already used: request a new one with POST /auth/challenge"},
    )


async def test_expired_challenge_is_refused(dev_app: FastAPI, client: httpx.AsyncClient) -> None:
    wallet = EcdsaWallet()
    account = await register(dev_app, wallet)
    service = auth_of(dev_app)
    start = utcnow()
    service.clock = lambda: start
    issued = await challenge(client, account)
    service.clock = lambda: start + timedelta(seconds=300)  # the 5 min default, exactly
    resp = await client.post(
        "/auth/verify",
        json={
            "accountId": account,
            "challengeId": issued["challengeId"],
            "signature": wallet.sign(issued["message"]).hex(),
        },
    )
    assert resp.status_code == 401
    assert resp.json()["error"].startswith("challenge expired at ")
    assert resp.json()["error"].endswith(": request a new one with POST /auth/challenge")


async def test_wrong_signature_key_or_account_is_refused(
    dev_app: FastAPI, client: httpx.AsyncClient
) -> None:
    wallet, other = Ed25519Wallet(), Ed25519Wallet()
    account = await register(dev_app, wallet)
    other_account = await register(dev_app, other)
    issued = await challenge(client, account)

    async def verify(account_id: str, signature: bytes, **extra: str) -> httpx.Response:
        body = {"accountId": account_id, "challengeId": issued["challengeId"], **extra}
        return await client.post("/auth/verify", json={**body, "signature": signature.hex()})

    not_signed = await verify(account, wallet.sign(issued["message"] + " "))
    assert (not_signed.status_code, not_signed.json()["error"]) == (
        401,
        f"signature does not verify with the ed25519 key of account {account}"
        " (expected the Hedera signed-message format of the challenge)",
    )
    by_other_key = await verify(account, other.sign(issued["message"]))
    assert by_other_key.status_code == 401
    other_account_claim = await verify(other_account, other.sign(issued["message"]))
    assert (other_account_claim.status_code, other_account_claim.json()["error"]) == (
        401,
        f"this challenge was issued to another account, not {other_account}",
    )
    wrong_key_hint = await verify(
        account, wallet.sign(issued["message"]), publicKey=other.public_hex
    )
    assert (wrong_key_hint.status_code, wrong_key_hint.json()["error"]) == (
        401,
        f"public_key is not the key of account {account}",
    )
    unknown = await client.post(
        "/auth/verify",
        json={"accountId": account, "challengeId": "0" * 32, "signature": "00" * 64},
    )
    assert (unknown.status_code, unknown.json()["error"]) == (
        401,
        "unknown challenge: request a new one with POST /auth/challenge",
    )
    # refusals did not burn the challenge: the right signature still signs in, once
    assert (await verify(account, wallet.sign(issued["message"]))).status_code == 200


async def test_account_without_key_cannot_get_a_challenge(client: httpx.AsyncClient) -> None:
    account = new_wallet()
    resp = await client.post("/auth/challenge", json={"accountId": account})
    assert (resp.status_code, resp.json()["error"]) == (
        401,
        f"no public key is registered for account {account} on this network"
        " (create a dev wallet: tensornode wallet create)",
    )
    bad = await client.post("/auth/challenge", json={"accountId": "alice"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("invalid walletAddress 'alice'")


async def test_cookie_session_needs_csrf_for_state_changes(
    dev_app: FastAPI, client: httpx.AsyncClient
) -> None:
    wallet = Ed25519Wallet()
    account = await register(dev_app, wallet)
    session = (await sign_in(client, wallet, account)).json()
    assert client.cookies.get("tn_csrf") == session["csrfToken"]
    # reads need no CSRF token
    who = await client.get("/auth/session")
    assert (who.status_code, who.json()["via"]) == (200, "cookie")
    missing = await client.post("/auth/logout")
    assert (missing.status_code, missing.json()["error"]) == (
        403,
        "CSRF check failed: a cookie-authenticated POST needs the X-CSRF-Token header"
        " (the tn_csrf cookie's value) or a same-origin Origin header",
    )
    forged = await client.post("/auth/logout", headers={"X-CSRF-Token": "guess"})
    assert (forged.status_code, forged.json()["error"]) == (
        403,
        "CSRF check failed: X-CSRF-Token does not match this session",
    )
    cross_site = await client.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    # a state-changing coordinator call with the cookie and the token
    deploy = await client.post("/deploy", json={}, headers={"X-CSRF-Token": session["csrfToken"]})
    assert deploy.status_code == 201, deploy.text
    assert deploy.json()["vms"][0]["owner"] == account
    refused = await client.post("/deploy", json={})
    assert refused.status_code == 403
    same_origin = await client.post("/auth/logout", headers={"Origin": "http://127.0.0.1"})
    assert same_origin.status_code == 200
    assert "tn_session" not in client.cookies  # logout cleared the cookies
    replayed_cookie = {"Cookie": f"tn_session={session['token']}"}
    after = await client.get("/auth/session", headers=replayed_cookie)
    assert (after.status_code, after.json()["error"]) == (401, "session revoked: sign in again")


async def test_logout_revokes_a_bearer_session(dev_app: FastAPI, client: httpx.AsyncClient) -> None:
    wallet = EcdsaWallet()
    account = await register(dev_app, wallet)
    token = (await sign_in(client, wallet, account)).json()["token"]
    client.cookies.clear()  # the CLI has no cookies: bearer only, no CSRF needed
    bearer = {"Authorization": f"Bearer {token}"}
    out = await client.post("/auth/logout", headers=bearer)
    assert (out.status_code, out.json()) == (200, {"revoked": True})
    again = await client.get("/vms", headers=bearer)
    assert (again.status_code, again.json()) == (401, {"error": "session revoked: sign in again"})
    nobody = await client.post("/auth/logout")
    assert (nobody.status_code, nobody.json()["error"]) == (
        401,
        "no session: sign in with POST /auth/challenge and /auth/verify",
    )


async def test_sessions_expire(dev_app: FastAPI, client: httpx.AsyncClient) -> None:
    wallet = Ed25519Wallet()
    account = await register(dev_app, wallet)
    token = (await sign_in(client, wallet, account)).json()["token"]
    client.cookies.clear()
    service = auth_of(dev_app)
    later = utcnow() + timedelta(hours=12, seconds=1)
    service.clock = lambda: later
    resp = await client.get("/auth/session", headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.json()) == (401, {"error": "session expired: sign in again"})


async def test_sign_in_attempts_are_rate_limited(make_app: AppFactory) -> None:
    async with make_app(attempts_per_account=3, attempts_per_ip=5) as app:
        wallet = Ed25519Wallet()
        account = await register(app, wallet)
        async with client_for(app) as client:
            for _ in range(3):
                await challenge(client, account)
            limited = await client.post("/auth/challenge", json={"accountId": account})
            assert limited.status_code == 429
            assert int(limited.headers["Retry-After"]) >= 1
            assert limited.json()["error"].startswith(
                f"too many sign-in attempts for account {account} from address 127.0.0.1:"
            )
            # per IP: another account from the same address is stopped after 5 in all
            other = await register(app, Ed25519Wallet())
            await challenge(client, other)
            by_ip = await client.post("/auth/challenge", json={"accountId": other})
            assert by_ip.status_code == 429
            assert "for address 127.0.0.1" in by_ip.json()["error"]


async def test_dev_register_funds_the_wallet_once(
    dev_app: FastAPI, client: httpx.AsyncClient
) -> None:
    wallet = Ed25519Wallet()
    first = await client.post("/auth/register", json={"publicKey": wallet.public_der})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["accountId"].startswith("0.0.")
    assert (body["keyType"], body["publicKey"]) == ("ed25519", wallet.public_hex)
    assert (body["created"], body["funded"], body["balance"]) == (
        True,
        10_000_000_000,
        10_000_000_000,
    )
    again = await client.post(
        "/auth/register", json={"accountId": body["accountId"], "publicKey": wallet.public_hex}
    )
    assert (again.json()["created"], again.json()["funded"], again.json()["balance"]) == (
        False,
        0,
        10_000_000_000,
    )
    hijack = await client.post(
        "/auth/register",
        json={"accountId": body["accountId"], "publicKey": Ed25519Wallet().public_hex},
    )
    assert (hijack.status_code, hijack.json()["error"]) == (
        409,
        f"account {body['accountId']} already has a different public key",
    )
    signed_in = await sign_in(client, wallet, body["accountId"])
    assert signed_in.status_code == 200


async def test_failing_in_an_accounts_name_does_not_lock_its_owner_out(
    make_app: AppFactory,
) -> None:
    async with make_app(attempts_per_account=3, attempts_per_ip=100) as app:
        wallet = Ed25519Wallet()
        account = await register(app, wallet)
        attacker = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
            base_url="http://127.0.0.1",
        )
        async with attacker:
            for _ in range(3):  # bad proofs in the owner's name, up to the per-account limit
                bad = await attacker.post(
                    "/auth/verify",
                    json={"accountId": account, "challengeId": "0" * 32, "signature": "00" * 64},
                )
                assert bad.status_code == 401
            refused = await attacker.post("/auth/challenge", json={"accountId": account})
            assert refused.status_code == 429
        async with client_for(app) as owner:  # another address
            verified = await sign_in(owner, wallet, account)
            assert verified.status_code == 200, verified.text
