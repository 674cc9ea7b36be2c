"""An epoch settled from stored validation rounds: payouts sum to the emission, the
report served at ``/epochs/{n}`` verifies with ``tensornode epoch verify``, and
``/rewards`` and ``tensornode rewards`` show what owners earned."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from scoring.network.conftest import LoopServer, network, tensornode, validation_settings
from tensornode.epochs.clock import epoch_at
from tensornode.epochs.report import EpochReport, verify_epoch
from tensornode.scoring.scorers.embedding import EmbeddingScorer

EPOCH_SECONDS = 600
EMISSION = 1_000_000_007  # a prime: the split cannot come out even by luck


async def test_epoch_settles_from_rounds_and_its_report_verifies(
    tmp_path: Path, db_url: str, embedder: EmbeddingScorer
) -> None:
    settings = validation_settings(
        tmp_path / "data", db_url, epoch_seconds=EPOCH_SECONDS, emission_per_epoch=EMISSION
    )
    async with network(settings, embedder, ("correct", "wrong", "down")) as net:
        await net.app.state.monitor.run_once()
        (stored,) = await net.runtime.validator_loop.run_once()
        window = epoch_at(stored.finished_at, EPOCH_SECONDS)
        # during the epoch, the one before it is not settled: nothing was validated in it
        # (this coordinator did not run then), so nothing is minted or paid for it
        before = await net.runtime.epochs.run_once(now=window.ends_at - timedelta(seconds=1))
        (report,) = await net.runtime.epochs.run_once(now=window.ends_at + timedelta(seconds=1))
        again = await net.runtime.epochs.run_once(now=window.ends_at + timedelta(seconds=2))
        served = await net.client.get(f"/epochs/{window.number}")
        unknown = await net.client.get(f"/epochs/{window.number + 1}")
        listed = (await net.client.get("/epochs")).json()
        owner = net.owners["correct"]
        rewards = (await net.client.get("/rewards", params={"account": owner})).json()
        scores = (
            await net.client.get(
                f"/miners/{net.miners['correct']}/scores", params={"epoch": window.number}
            )
        ).json()
        probe = {"challengeId": "x", "minerId": net.miners["down"], "status": "timeout"}
        start = window.starts_at.isoformat()
        late = await net.client.post(
            "/validation/rounds",
            json={
                "subnet": "llm",
                "seed": "7",
                "issuedAt": start,
                "ticket": "0" * 64,
                "challenges": 8,
                "startedAt": start,
                "finishedAt": start,
                "probes": [probe],
            },
            headers={"X-Wallet-Address": settings.validator.account},
        )
    assert before == [] and again == []  # the epoch before this coordinator ran: unpaid
    assert report.previous_epoch is None and report.previous_hash is None  # the first
    assert report.epoch == window.number
    assert sum(p.amount for p in report.payouts) == EMISSION
    paid = {(p.account, p.kind): p.amount for p in report.payouts}
    assert paid[(owner, "miner")] > 0
    assert (net.owners["wrong"], "miner") not in paid  # wrong answers earn nothing
    assert (net.owners["down"], "miner") not in paid  # down all epoch: total 0
    assert paid[(settings.validator.account, "validator")] == EMISSION * 20 // 100
    assert {m.miner_id for m in report.miners} == set(net.miners.values())
    assert all(m.evidence_count == 8 for m in report.miners)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.content.decode() == report.canonical()
    assert verify_epoch(EpochReport.model_validate_json(served.content), None) == []
    assert unknown.status_code == 404 and "has no report" in unknown.json()["error"]
    assert [e["number"] for e in listed["data"]] == [window.number]
    assert listed["data"][0]["status"] == "settled"
    assert listed["data"][0]["hash"] == report.hash
    assert rewards["data"] == [
        {"epoch": window.number, "kind": "miner", "amount": paid[(owner, "miner")],
         "transactionId": rewards["data"][0]["transactionId"],
         "endsAt": window.ends_at.isoformat().replace("+00:00", "Z")}
    ]  # fmt: skip
    assert rewards["balance"] == rewards["total"] == paid[(owner, "miner")]
    assert scores["current"]["final"] is True
    assert scores["history"][0]["epoch"] == window.number
    assert scores["history"][0]["reward"] == paid[(owner, "miner")]
    assert late.status_code == 409 and "already settled" in late.json()["error"]


async def test_cli_verifies_the_served_report_and_shows_rewards(
    tmp_path: Path, embedder: EmbeddingScorer
) -> None:
    db = f"sqlite:///{tmp_path / 'network.db'}"
    settings = validation_settings(
        tmp_path / "data", db, epoch_seconds=EPOCH_SECONDS, emission_per_epoch=EMISSION
    )
    async with network(settings, embedder, ("correct", "echo")) as net:
        await net.app.state.monitor.run_once()
        (stored,) = await net.runtime.validator_loop.run_once()
        window = epoch_at(stored.finished_at, EPOCH_SECONDS)
        (report,) = await net.runtime.epochs.run_once(now=window.ends_at + timedelta(seconds=1))
        owner = net.owners["correct"]
        async with LoopServer(net.app) as server:
            url = ("--coordinator", server.url)
            verified = await tensornode("epoch", "verify", str(window.number), *url)
            earned = await tensornode("rewards", "--account", owner, *url)
            nobody = await tensornode("rewards", *url)
            # the round's epoch, not the running one: the test may cross an epoch's end
            epoch = ("--epoch", str(window.number))
            scores = await tensornode("scores", net.miners["echo"], *epoch, *url)
            board = await tensornode("leaderboard", *epoch, *url)
    amount = next(p.amount for p in report.payouts if p.account == owner)
    assert verified.code == 0, verified.stderr
    assert f"epoch {window.number}: OK" in verified.stdout and report.hash in verified.stdout
    assert earned.code == 0, earned.stderr
    assert f"total {amount} tinybar over 1 payouts; balance {amount} tinybar" in earned.stdout
    assert nobody.code == 1 and "name the account" in nobody.stderr
    assert scores.code == 0, scores.stderr
    assert "answers echoed the prompt on 8 challenges" in scores.stdout
    assert "quality" in scores.stdout and "why:" in scores.stdout
    assert board.code == 0 and "correct" in board.stdout
    assert f"leaderboard - epoch {window.number}" in board.stdout
    assert "so far" not in board.stdout  # an epoch named: its title does not say "so far"
