"""A probe and a user's request reach a miner as the same bytes; a relay is refused."""

from __future__ import annotations

from pathlib import Path

import httpx

from coordinator.conftest import client_for, running_app
from factories import make_settings, new_wallet, wallet
from tensornode.miner.check import check_miner
from tensornode.net.signing import HEADER, RequestVerifier
from tensornode.scoring.probe import send_probe
from tensornode.scoring.schemas import MinerTarget
from tensornode.scoring.sim import MinerFarm, ScriptedMiner

BODY = {"prompt": "Which planet is known as the red planet?", "max_tokens": 64}


def _masked(head: bytes) -> bytes:
    """The request head with the signature value cut (it holds the second it was made)."""
    lines = head.split(b"\r\n")
    name = HEADER.lower().encode()
    return b"\r\n".join(
        line.split(b":")[0] + b": <signature>" if line.lower().startswith(name) else line
        for line in lines
    )


async def test_probes_and_user_requests_are_byte_for_byte_alike(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}")
    async with MinerFarm() as farm, running_app(settings) as app, client_for(app) as client:
        miner = ScriptedMiner(answer=lambda p: "4" if "2 + 2" in p else "Mars", record=True)
        url = await farm.add("m", miner)
        runtime = app.state.validation
        miner.verifier = RequestVerifier(runtime.signer.public_key, url)
        owner = wallet(new_wallet())
        created = await client.post("/miners", json={"endpoint": url}, headers=owner)
        assert created.status_code == 201, created.text
        await app.state.gateway.pool.refresh()
        miner.seen.clear()
        # a user's client writes its JSON its own way: spacing, key order
        user = await client.post(
            "/api/chat",
            content=b'{ "max_tokens": 64,  "prompt": "Which planet is known as the red planet?" }',
            headers={"content-type": "application/json", "user-agent": "curl/8.0"},
        )
        probe = await send_probe(runtime.probe_client, MinerTarget("m", url), dict(BODY), timeout=5)
        key = (await client.get("/network/key")).json()
    assert user.status_code == 200, user.text
    assert probe.status == "ok" and probe.answer == "Mars"
    posts = [s for s in miner.seen if s.method == "POST"]
    assert len(posts) == 2, [(p.path, p.body) for p in posts]
    from_user, from_probe = posts
    expected = b'{"prompt":"Which planet is known as the red planet?","max_tokens":64}'
    assert from_user.body == from_probe.body == expected
    assert _masked(from_user.head) == _masked(from_probe.head)
    assert list(from_user.headers) == ["host", "accept", HEADER.lower(), "content-type",
                                       "content-length"]  # fmt: skip
    assert key["publicKey"] == runtime.signer.public_key and key["algorithm"] == "ed25519"


async def test_a_relayed_request_fails_and_miner_check_says_who_enforces(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'db.sqlite'}")
    async with MinerFarm() as farm, running_app(settings) as app, httpx.AsyncClient() as http:
        signer = app.state.validation.signer
        honest = ScriptedMiner(answer=lambda p: "4")
        honest_url = await farm.add("honest", honest)
        honest.verifier = RequestVerifier(signer.public_key, honest_url)
        plain_url = await farm.add("plain", ScriptedMiner(answer=lambda p: "4"))
        body = b'{"prompt":"What is 2 + 2?"}'
        # a copier got a request the coordinator signed for the copier, and relays it
        relayed = await http.post(
            honest_url + "/api/chat",
            content=body,
            headers={HEADER: signer.header("http://127.0.0.1:1", body)},
        )
        signed = await http.post(
            honest_url + "/api/chat",
            content=body,
            headers={HEADER: signer.header(honest_url, body)},
        )
        enforced = await check_miner(honest_url, client=http, requests=1)
        open_door = await check_miner(plain_url, client=http, requests=1)
        registered = await check_miner(honest_url, client=http, requests=1, signer=signer)
    assert relayed.status_code == 401 and "not for this miner" in relayed.json()["error"]
    assert signed.status_code == 200
    by_name = {r.name: r for r in enforced.results}
    assert by_name["chat.signed_only"].reason.startswith("on: refuses requests not signed")
    assert (
        by_name["chat"].status.value == "warn" and "chat checks skipped" in by_name["chat"].reason
    )
    plain = {r.name: r for r in open_door.results}["chat.signed_only"]
    assert plain.reason.startswith("off:") and "other miners can relay" in plain.reason
    assert registered.ok and {r.name: r for r in registered.results}["chat"].status.value == "pass"
