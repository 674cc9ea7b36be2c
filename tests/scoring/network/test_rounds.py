"""In-process validation: rounds against registered scripted miners, the leaderboard,
a miner's scores with evidence and reasons, and submitted rounds re-graded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scoring.network.conftest import Network, network
from tensornode.config import Settings
from tensornode.epochs.clock import epoch_at
from tensornode.scoring.network.models import ValidationRound
from tensornode.scoring.round import plan_for_miners
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.sim import correct
from tensornode.scoring.subnets import get_subnet

BEHAVIOURS = ("correct", "slow", "wrong", "echo", "down")


async def _validated(net: Network) -> dict[str, int]:
    """One monitor pass (availability) and one in-process round; the query parameters
    that name the round's epoch (a test may cross an epoch's end)."""
    await net.app.state.monitor.run_once()
    rounds = await net.runtime.validator_loop.run_once()
    assert len(rounds) == 1 and len(rounds[0].miners) == len(BEHAVIOURS)
    return {
        "epoch": epoch_at(rounds[0].finished_at, net.core.settings.rewards.epoch_seconds).number
    }


async def test_leaderboard_ranks_honest_fast_miners_first(
    settings: Settings, embedder: EmbeddingScorer
) -> None:
    async with network(settings, embedder, BEHAVIOURS) as net:
        empty = (await net.client.get("/leaderboard", params={"subnet": "llm"})).json()
        assert {row["total"] for row in empty["data"]} == {0.0}  # listed before any round
        epoch = await _validated(net)
        resp = await net.client.get("/leaderboard", params={"subnet": "llm", **epoch})
        later = {"subnet": "llm", "epoch": epoch["epoch"] + 1}
        next_epoch = (await net.client.get("/leaderboard", params=later)).json()
        bad_epoch = await net.client.get("/leaderboard", params={"epoch": -1})
        rounds = (await net.client.get("/validation/rounds", params={"subnet": "llm"})).json()
    assert resp.status_code == 200, resp.text
    board = resp.json()
    assert board["epoch"] == epoch["epoch"] and next_epoch["epoch"] == epoch["epoch"] + 1
    assert {row["probes"] for row in next_epoch["data"]} == {0}  # the round is not in it
    assert bad_epoch.status_code == 422 and "error" in bad_epoch.json()
    by_name = {row["name"]: row for row in board["data"]}
    order = [row["name"] for row in board["data"]]
    assert order[:2] == ["correct", "slow"] and set(order[2:]) == {"wrong", "echo", "down"}
    assert [row["rank"] for row in board["data"]] == [1, 2, 3, 4, 5]
    assert by_name["correct"]["quality"] > 0.9 and by_name["slow"]["quality"] > 0.9
    assert by_name["correct"]["speed"] > by_name["slow"]["speed"]
    assert by_name["down"]["participation"] == 0.0 and by_name["down"]["availability"] == 0.0
    assert by_name["correct"]["availability"] == 1.0
    assert rounds["count"] == 1 and rounds["data"][0]["source"] == "in-process"
    listed = {m["minerId"]: m for m in rounds["data"][0]["miners"]}
    assert listed[net.miners["correct"]]["passed"] == 8
    assert listed[net.miners["down"]]["answered"] == 0
    for junk in ("wrong", "echo", "down"):  # up and answering fast is worth nothing
        assert by_name[junk]["total"] == 0.0 and by_name[junk]["participation"] == 0.0
        assert by_name[junk]["availability"] == 0.0
    assert board["weights"] == {
        "quality": 0.4, "speed": 0.3, "availability": 0.2, "participation": 0.1
    }  # fmt: skip


async def test_miner_scores_show_evidence_and_reasons(
    settings: Settings, embedder: EmbeddingScorer
) -> None:
    async with network(settings, embedder, BEHAVIOURS) as net:
        epoch = await _validated(net)
        echo = (await net.client.get(f"/miners/{net.miners['echo']}/scores", params=epoch)).json()
        down = (await net.client.get(f"/miners/{net.miners['down']}/scores", params=epoch)).json()
        good = (
            await net.client.get(f"/miners/{net.miners['correct']}/scores", params=epoch)
        ).json()
        page = await net.client.get(
            f"/miners/{net.miners['wrong']}/scores", params={"limit": 3, "offset": 6, **epoch}
        )
        missing = await net.client.get("/miners/nope/scores")
    assert echo["current"]["probes"] == 8 and echo["evidence"]["count"] == 8
    assert "answers echoed the prompt on 8 challenges" in echo["current"]["why"]
    first = echo["evidence"]["data"][0]
    assert first["verdict"] == "penalty" and first["reason"] == "answer echoes the prompt"
    assert len(first["challengeHash"]) == 64 and first["latencyS"] is not None
    assert any(
        line.startswith("8 of 8 challenges failed with an error: cannot connect to 127.0.0.1")
        for line in down["current"]["why"]
    ), down["current"]["why"]
    assert (
        "0 of 1 health probes succeeded, credited for the 0 of 8 challenges passed "
        "(availability 0.00)"
    ) in down["current"]["why"]
    assert good["current"]["why"][0].startswith("all 8 challenges passed (quality ")
    assert good["current"]["final"] is False and good["history"] == []
    wrong = page.json()["evidence"]
    assert (wrong["count"], wrong["limit"], wrong["offset"], len(wrong["data"])) == (8, 3, 6, 2)
    assert missing.status_code == 404
    assert missing.json() == {"error": "miner nope not found"}


async def test_submitted_rounds_are_regraded_by_the_coordinator(
    settings: Settings, embedder: EmbeddingScorer
) -> None:
    """A validator sends observations on the seed it was issued; the verdicts are the
    coordinator's own, and a round must cover every miner it was given."""
    async with network(settings, embedder, ("correct", "wrong")) as net:
        runtime = net.runtime
        own = {"X-Wallet-Address": runtime.service.own_account}
        stranger = {"X-Wallet-Address": "0.0.555"}
        targets = (await net.client.get("/validation/targets", headers=own)).json()
        seed = int(targets["seed"])
        ids = [t["minerId"] for t in targets["data"]]
        plans = plan_for_miners(get_subnet("llm"), seed, ids, 8)
        now = datetime.now(UTC).isoformat()
        name = {miner_id: n for n, miner_id in net.miners.items()}
        # the validator claims the "wrong" miner gave right answers on verifiable tasks
        # and the "correct" one gave wrong answers: the grading follows the answers
        probes = [
            {
                "challengeId": c.id, "minerId": m, "status": "ok",
                "answer": correct(c.prompt) if name[m] == "wrong" else "no idea",
                "latencyS": 0.05,
            }
            for m in ids
            for c in plans[m]
        ]  # fmt: skip
        body = {"subnet": "llm", "seed": targets["seed"], "issuedAt": targets["issuedAt"],
                "ticket": targets["ticket"], "challenges": 8, "startedAt": now,
                "finishedAt": now, "probes": probes}  # fmt: skip
        refused = await net.client.post("/validation/rounds", json=body, headers=stranger)
        own_seed = await net.client.post(
            "/validation/rounds", json={**body, "seed": str(seed + 1)}, headers=own
        )
        one_miner = [p for p in probes if p["minerId"] == ids[0]]
        left_out = await net.client.post(
            "/validation/rounds", json={**body, "probes": one_miner}, headers=own
        )
        partial = await net.client.post(
            "/validation/rounds", json={**body, "probes": probes[:-1]}, headers=own
        )
        other_count = await net.client.post(
            "/validation/rounds", json={**body, "challenges": 6}, headers=own
        )
        accepted = await net.client.post("/validation/rounds", json=body, headers=own)
        replay = await net.client.post("/validation/rounds", json=body, headers=own)
        async with net.core.db.session() as session:
            stored = await session.get(ValidationRound, accepted.json()["roundId"])
    assert refused.status_code == 403
    assert refused.json()["error"].startswith("account 0.0.555 is not a registered validator")
    assert own_seed.status_code == 403  # a seed the validator picked itself
    assert "does not match a seed this coordinator issued" in own_seed.json()["error"]
    assert left_out.status_code == 403  # a round leaving a miner out
    assert "probe every miner it listed" in left_out.json()["error"]
    assert partial.status_code == 400, partial.text
    assert "1 probes missing" in partial.json()["error"]
    assert other_count.status_code == 400
    assert "is not one of miner" in other_count.json()["error"]
    assert accepted.status_code == 201, accepted.text
    summary = {m["minerId"]: m for m in accepted.json()["miners"]}
    assert summary[net.miners["wrong"]]["passed"] == 8  # graded on the answers alone
    assert summary[net.miners["correct"]]["passed"] == 0
    assert replay.status_code == 409
    assert stored is not None and stored.source == "remote" and stored.seed == str(seed)


@pytest.mark.parametrize("path", ["/validation/targets?subnet=llm", "/validation/manual"])
async def test_validation_endpoints_need_a_credential(
    settings: Settings, embedder: EmbeddingScorer, path: str
) -> None:
    async with network(settings, embedder, ()) as net:
        if path.startswith("/validation/targets"):
            resp = await net.client.get(path)
        else:
            resp = await net.client.post(path, json={"question": "q", "expected": "a"})
    assert resp.status_code == 401
