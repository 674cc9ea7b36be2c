"""Validator scores steer routing: a miner whose answers fail validation gets little traffic."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI

from tensornode.db.models import Account, utcnow
from tensornode.scoring.network.models import ValidationResult, ValidationRound

from .chat_miner import serve_chat_miner
from .conftest import add_miner, gateway_of


async def _record_round(app: FastAPI, verdicts: dict[str, str]) -> None:
    """One finished validation round with one challenge per miner, as the validator stores it."""
    now = utcnow()
    async with app.state.coordinator.db.session() as session:
        session.add(Account(id="0.0.777", created_at=now))
        await session.flush()
        session.add(
            ValidationRound(
                id="r1", subnet="llm", validator_id="0.0.777", source="in-process", seed="s",
                challenges=1, miners=len(verdicts), started_at=now - timedelta(seconds=5),
                finished_at=now - timedelta(seconds=1),
            )
        )  # fmt: skip
        await session.flush()
        for miner_id, verdict in verdicts.items():
            passed = verdict == "pass"
            session.add(
                ValidationResult(
                    round_id="r1", miner_id=miner_id, at=now - timedelta(seconds=1),
                    challenge_id="c1", challenge_hash="h" * 64, family="arithmetic",
                    status="ok", answer="4" if passed else "5", latency_s=0.1,
                    score=1.0 if passed else 0.0, speed=1.0 if passed else 0.0,
                    verdict=verdict, reason="exact match" if passed else "wrong",
                )
            )  # fmt: skip


async def test_validator_scores_weigh_the_routing(app: FastAPI, client: httpx.AsyncClient) -> None:
    gateway = gateway_of(app)
    async with serve_chat_miner("honest") as honest, serve_chat_miner("wrong") as wrong:
        honest_id = await add_miner(app, honest.endpoint)
        wrong_id = await add_miner(app, wrong.endpoint)
        await _record_round(app, {honest_id: "pass", wrong_id: "fail"})
        source = gateway._own_scores
        assert source is not None
        source._computed_at = None  # read them now, not at the next period
        await source.scores()
        assert source._running is not None
        await source._running
        scores = await source.scores()
        assert scores[honest_id] > scores[wrong_id]
        await gateway.pool.refresh()
        status = gateway.status()
        assert status[honest_id]["score"] > status[wrong_id]["score"]
        served = [
            (await client.post("/api/chat", json={"prompt": f"{n}"})).json()["miner_id"]
            for n in range(40)
        ]
    assert served.count(honest_id) > 3 * served.count(wrong_id)
    assert honest.answered == served.count(honest_id)
