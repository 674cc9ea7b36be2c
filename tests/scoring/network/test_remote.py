"""``tensornode validator run`` as its own process against a coordinator on loopback,
signed in with an API key; the operator's validator registry; manual validation."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from factories import new_wallet
from scoring.network.conftest import LoopServer, network, register, tensornode, validation_settings
from tensornode.coordinator.accounts import create_api_key
from tensornode.epochs.clock import epoch_at
from tensornode.net.signing import RequestVerifier
from tensornode.scoring.network.models import ValidationRound
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.sim import ScriptedMiner


async def test_remote_validator_process_submits_a_round(
    tmp_path: Path, embedder: EmbeddingScorer
) -> None:
    settings = validation_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'network.db'}")
    env = {"TENSORNODE_DATABASE_URL": str(settings.database_url)}
    validator = new_wallet()
    async with (
        network(settings, embedder, ("correct", "wrong", "down")) as net,
        LoopServer(net.app) as server,
    ):
        # the honest miner refuses requests the coordinator did not sign for it: the
        # remote validator's probes carry the signatures issued with its targets
        net.farm.miners["correct"].verifier = RequestVerifier(
            net.runtime.signer.public_key, net.farm.urls["correct"]
        )
        added = await tensornode("coordinator", "validator", "add", validator, env=env)
        created = await tensornode("coordinator", "apikey", "create", validator, env=env)
        listed = await tensornode("coordinator", "validator", "list", env=env)
        async with net.core.db.session() as session:
            stranger_key = await create_api_key(session, new_wallet())
        key = created.stdout.strip()
        ran = await tensornode("validator", "run", "--once", "--coordinator", server.url,
                               "--api-key", key)  # fmt: skip
        refused = await tensornode("validator", "run", "--once", "--coordinator", server.url,
                                   "--api-key", stranger_key)  # fmt: skip
        forbidden = await net.client.get(
            "/validation/targets", headers={"Authorization": f"Bearer {stranger_key}"}
        )
        validators = (await net.client.get("/validators")).json()["data"]
        async with net.core.db.session() as session:
            rounds = list(await session.scalars(select(ValidationRound)))
        # the round's epoch, not the running one: the test may cross an epoch's end
        epoch = epoch_at(rounds[0].finished_at, net.core.settings.rewards.epoch_seconds)
        board = (await net.client.get("/leaderboard", params={"epoch": epoch.number})).json()
    assert added.code == 0 and f"validator {validator} added" in added.stdout, added.stderr
    assert validator in listed.stdout
    assert ran.code == 0, ran.stderr
    assert len(rounds) == 1 and rounds[0].validator_id == validator
    assert rounds[0].source == "remote" and rounds[0].miners == 3
    assert f"round {rounds[0].id}" in ran.stdout
    ranked = [row["name"] for row in board["data"]]
    assert board["data"][0]["passed"] == 8, board  # every signed probe was answered
    assert ranked[0] == "correct" and set(ranked[1:]) == {"wrong", "down"}
    assert {row["probes"] for row in board["data"]} == {8}
    assert refused.code == 1
    assert "is not a registered validator" in refused.stderr
    assert forbidden.status_code == 403
    assert {"accountId": validator, "source": "registry", "note": None} in validators
    assert validators[0] == {
        "accountId": settings.validator.account, "source": "coordinator", "note": None
    }  # fmt: skip


async def test_manual_validation_scores_each_miner(
    tmp_path: Path, embedder: EmbeddingScorer
) -> None:
    settings = validation_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'network.db'}")
    async with network(settings, embedder, ("down",)) as net:
        for name, answer in (("right", "42"), ("off", "It is 41.")):
            url = await net.farm.add(name, ScriptedMiner(answer=lambda _p, a=answer: a))
            await register(net.core, name, url, new_wallet())
        validator = new_wallet()
        await net.runtime.service.add_validator(validator)
        body = {"subnet": "llm", "question": "What is 6 times 7?", "expected": "42"}
        resp = await net.client.post(
            "/validation/manual", json=body, headers={"X-Wallet-Address": validator}
        )
        refused = await net.client.post(
            "/validation/manual", json=body, headers={"X-Wallet-Address": new_wallet()}
        )
        rounds = await net.runtime.service.rounds_count()
    assert resp.status_code == 200, resp.text
    results = {r["name"]: r for r in resp.json()["data"]}
    assert resp.json()["count"] == 3
    assert results["right"]["score"] == 1.0 and results["right"]["verdict"] == "pass"
    assert results["right"]["answer"] == "42" and results["right"]["latencyS"] is not None
    assert results["right"]["method"] == "numeric"
    assert results["off"]["verdict"] == "fail" and results["off"]["score"] < 0.5
    assert results["down"]["verdict"] == "error" and results["down"]["latencyS"] is None
    assert refused.status_code == 403
    assert rounds == 0  # manual answers are never part of an epoch's scores
