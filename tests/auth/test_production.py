"""Outside dev mode: every state-changing call needs a session or an API key."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from coordinator.conftest import client_for
from factories import PUBLIC_URL

from .conftest import AppFactory, register, sign_in
from .wallets import EcdsaWallet, Ed25519Wallet

NO_CREDENTIAL = {"error": "authentication required: send Authorization: Bearer <api key>"}
# unsafe-method routes that are public on purpose: sign-in itself, and a price quote
PUBLIC_UNSAFE = {
    ("POST", "/auth/challenge"),
    ("POST", "/auth/verify"),
    ("POST", "/auth/register"),  # 403 outside dev mode, tested below
    ("POST", "/estimate"),
}


async def test_session_authenticates_state_changes_outside_dev(make_app: AppFactory) -> None:
    async with make_app(dev_mode=False) as app:
        wallet = EcdsaWallet()
        account = await register(app, wallet)
        transport = httpx.ASGITransport(app=app)  # a public name: cookies are Secure
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            bare = await client.post("/deploy", json={"walletAddress": account})
            assert (bare.status_code, bare.json()) == (401, NO_CREDENTIAL)
            verified = await sign_in(client, wallet, account)
            assert verified.status_code == 200, verified.text
            session = verified.json()
            cookies = {
                c.split("=", 1)[0]: c.lower() for c in verified.headers.get_list("set-cookie")
            }
            assert "secure" in cookies["tn_session"] and "secure" in cookies["tn_csrf"]
            bearer = {"Authorization": f"Bearer {session['token']}"}
            deployed = await client.post("/deploy", headers=bearer, json={"walletAddress": "0.0.1"})
            assert deployed.status_code == 201, deployed.text
            assert deployed.json()["vms"][0]["owner"] == account  # the session decides
            # a Secure cookie is not sent over plain http by a browser: send it by hand
            client.cookies.clear()
            cookie = {"Cookie": f"tn_session={session['token']}"}
            no_csrf = await client.post("/deploy", headers=cookie, json={})
            assert no_csrf.status_code == 403
            with_csrf = await client.post(
                "/deploy", headers={**cookie, "X-CSRF-Token": session["csrfToken"]}, json={}
            )
            assert with_csrf.status_code == 201, with_csrf.text
            listed = await client.get("/vms", headers=bearer)
            assert listed.json()["count"] == 2


async def test_register_is_dev_only(make_app: AppFactory) -> None:
    async with make_app(dev_mode=False) as app, client_for(app) as client:
        resp = await client.post("/auth/register", json={"publicKey": Ed25519Wallet().public_hex})
        assert (resp.status_code, resp.json()["error"]) == (
            403,
            "POST /auth/register is only available in dev mode; on Hedera the account's key"
            " is read from the mirror node",
        )


def _unsafe_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every documented route that may change state (from OpenAPI)."""
    paths = app.openapi()["paths"]
    return [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    ]


async def test_every_state_changing_route_needs_a_credential(make_app: AppFactory) -> None:
    async with make_app(dev_mode=False) as app, client_for(app) as client:
        routes = _unsafe_routes(app)
        assert ("POST", "/deploy") in routes and ("POST", "/auth/logout") in routes
        for method, path in routes:
            if (method, path) in PUBLIC_UNSAFE:
                continue
            url = re.sub(r"\{[^}]+\}", "0123456789abcdef0123456789abcdef", path)
            resp = await client.request(method, url, json={})
            assert resp.status_code == 401, f"{method} {path} answered {resp.status_code}"


async def test_api_keys_still_work_beside_sessions(make_app: AppFactory) -> None:
    from factories import new_wallet
    from tensornode.coordinator.accounts import create_api_key

    async with make_app(dev_mode=False) as app:
        core = app.state.coordinator
        account = new_wallet()
        async with core.db.session() as session:
            key = await create_api_key(session, account)
        async with client_for(app) as client:
            ok = await client.get("/vms", headers={"Authorization": f"Bearer {key}"})
            assert ok.status_code == 200
            bad: httpx.Response = await client.get(
                "/vms", headers={"Authorization": "Bearer tns_x"}
            )
            assert (bad.status_code, bad.json()) == (
                401,
                {"error": "invalid session: sign in again"},
            )


async def test_challenge_names_the_public_url_whatever_the_host_header(
    make_app: AppFactory,
) -> None:
    async with make_app(dev_mode=False) as app, client_for(app) as client:
        account = await register(app, Ed25519Wallet())
        resp = await client.post(
            "/auth/challenge", json={"accountId": account}, headers={"Host": "evil.example"}
        )
        assert resp.status_code == 200, resp.text
        message = resp.json()["message"]
        assert "URI: http://coord.test\n" in message
        assert "evil.example" not in message
