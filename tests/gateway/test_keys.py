"""Gateway keys: create, list, revoke; required outside dev mode; per-key rate limits."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI

from factories import new_wallet, wallet
from tensornode.coordinator.accounts import create_api_key

from .chat_miner import serve_chat_miner
from .conftest import add_miner, client_for, gateway_of, gateway_settings, running


async def _account_key(app: FastAPI, account: str) -> dict[str, str]:
    async with app.state.coordinator.db.session() as session:
        key = await create_api_key(session, account)
    return {"Authorization": f"Bearer {key}"}


async def test_keys_are_created_listed_and_revoked_by_their_owner(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, dev_mode=False)) as app,
        client_for(app) as client,
        serve_chat_miner("alpha") as miner,
    ):
        await add_miner(app, miner.endpoint)
        owner = await _account_key(app, new_wallet())
        other = await _account_key(app, new_wallet())

        created = await client.post("/gateway/keys", headers=owner, json={"name": "my app"})
        assert created.status_code == 201, created.text
        key = created.json()
        assert key["key"].startswith("tng_") and key["name"] == "my app"
        assert key["prefix"] == key["key"][:12] and key["revokedAt"] is None
        bearer = {"Authorization": f"Bearer {key['key']}"}

        listed = (await client.get("/gateway/keys", headers=owner)).json()
        assert listed["count"] == 1 and "key" not in listed["data"][0]
        assert listed["data"][0]["id"] == key["id"]
        assert (await client.get("/gateway/keys", headers=other)).json()["count"] == 0

        ok = await client.post("/api/chat", headers=bearer, json={"prompt": "hi"})
        assert ok.status_code == 200, ok.text

        stolen = await client.delete(f"/gateway/keys/{key['id']}", headers=other)
        assert stolen.status_code == 404
        revoked = await client.delete(f"/gateway/keys/{key['id']}", headers=owner)
        assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None

        refused = await client.post("/api/chat", headers=bearer, json={"prompt": "hi"})
        assert refused.status_code == 401
        assert refused.json() == {"error": "invalid or revoked gateway key"}
        await gateway_of(app).recorder.flush()  # last use is written with the metrics
        listed = (await client.get("/gateway/keys", headers=owner)).json()
        assert listed["data"][0]["lastUsedAt"] is not None
    assert miner.answered == 1


async def test_outside_dev_mode_a_gateway_key_is_required(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, dev_mode=False)) as app,
        client_for(app) as client,
        serve_chat_miner("alpha") as miner,
    ):
        await add_miner(app, miner.endpoint)
        bare = await client.post("/api/chat", json={"prompt": "hi"})
        assert bare.status_code == 401
        assert bare.json()["error"].startswith("a gateway key is required")
        account_key = await _account_key(app, new_wallet())
        wrong_kind = await client.post("/api/chat", headers=account_key, json={"prompt": "hi"})
        assert wrong_kind.status_code == 401
        assert wrong_kind.json()["error"].startswith("not a gateway key")
        v1 = await client.post(
            "/v1/chat/completions",
            json={"model": "llm", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert v1.status_code == 401
        assert v1.json()["error"]["type"] == "authentication_error"
        anonymous_create = await client.post("/gateway/keys", json={})
        assert anonymous_create.status_code == 401
    assert miner.requests == 0


async def test_dev_mode_accepts_anonymous_callers_and_wallets_manage_keys(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async with serve_chat_miner("alpha") as miner:
        await add_miner(app, miner.endpoint)
        assert (await client.post("/api/chat", json={"prompt": "hi"})).status_code == 200
        me = wallet(new_wallet())
        created = await client.post("/gateway/keys", headers=me, json={})
        assert created.status_code == 201
        bearer = {"Authorization": f"Bearer {created.json()['key']}"}
        assert (
            await client.post("/api/chat", headers=bearer, json={"prompt": "k"})
        ).status_code == 200
        bogus = {"Authorization": "Bearer tng_not-a-key"}
        resp = await client.post("/api/chat", headers=bogus, json={"prompt": "k"})
        assert resp.status_code == 401  # a key that is sent is checked, even in dev mode


async def test_rate_limit_per_key_answers_429_with_retry_after(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, rate_limit_per_min=3)) as app,
        client_for(app) as client,
        serve_chat_miner("alpha") as miner,
    ):
        await add_miner(app, miner.endpoint)
        me = wallet(new_wallet())
        key = (await client.post("/gateway/keys", headers=me, json={})).json()["key"]
        roomy = await client.post("/gateway/keys", headers=me, json={"rateLimitPerMin": 600})
        assert (roomy.status_code, roomy.json()) == (
            422,
            {"error": "rateLimitPerMin: at most 3 requests per minute (the gateway's limit)"},
        )
        second = (await client.post("/gateway/keys", headers=me, json={})).json()["key"]
        bearer = {"Authorization": f"Bearer {key}"}
        codes = [
            (await client.post("/api/chat", headers=bearer, json={"prompt": "x"})).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 200]
        limited = await client.post("/api/chat", headers=bearer, json={"prompt": "x"})
        assert limited.status_code == 429
        assert limited.json()["error"].startswith("rate limit of 3 requests per minute exceeded")
        assert 1 <= int(limited.headers["Retry-After"]) <= 20
        v1 = await client.post(
            "/v1/chat/completions",
            headers=bearer,
            json={"model": "llm", "messages": [{"role": "user", "content": "x"}]},
        )
        assert v1.status_code == 429 and "Retry-After" in v1.headers
        assert v1.json()["error"]["code"] == "rate_limit_exceeded"
        # the account's keys share its bucket: a second key buys nothing
        again = await client.post(
            "/api/chat", headers={"Authorization": f"Bearer {second}"}, json={"prompt": "y"}
        )
        assert again.status_code == 429
        # a key may lower its own limit
        them = wallet(new_wallet())
        slow = (
            await client.post("/gateway/keys", headers=them, json={"rateLimitPerMin": 1})
        ).json()
        slow_bearer = {"Authorization": f"Bearer {slow['key']}"}
        slow_codes = [
            (await client.post("/api/chat", headers=slow_bearer, json={"prompt": "s"})).status_code
            for _ in range(2)
        ]
        assert slow_codes == [200, 429]
        # anonymous dev traffic shares one bucket per client IP
        anonymous = [
            (await client.post("/api/chat", json={"prompt": "z"})).status_code for _ in range(4)
        ]
        assert anonymous == [200, 200, 200, 429]
    assert miner.answered == 7


async def test_an_account_holds_a_bounded_number_of_keys(tmp_path: Path) -> None:
    async with (
        running(gateway_settings(tmp_path, max_keys_per_account=2)) as app,
        client_for(app) as client,
    ):
        me = wallet(new_wallet())
        first = (await client.post("/gateway/keys", headers=me, json={})).json()
        assert (await client.post("/gateway/keys", headers=me, json={})).status_code == 201
        third = await client.post("/gateway/keys", headers=me, json={})
        assert (third.status_code, third.json()) == (
            409,
            {"error": "an account holds at most 2 gateway keys: revoke one first"},
        )
        await client.delete(f"/gateway/keys/{first['id']}", headers=me)
        assert (await client.post("/gateway/keys", headers=me, json={})).status_code == 201
        assert app is not None
