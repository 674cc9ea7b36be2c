"""Rounds against scripted miners on loopback: rankings, penalties, timeouts, latency."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio

from tensornode.gateway.upstream import chat_body
from tensornode.scoring import (
    MinerScore,
    MinerTarget,
    RoundOptions,
    RoundResult,
    Subnet,
    run_round,
    score_epoch,
)
from tensornode.scoring.challenges.open_questions import find_question, sample_bank
from tensornode.scoring.probe import ProbeClient
from tensornode.scoring.schemas import Evidence
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.scorers.judge import JudgeScorer
from tensornode.scoring.sim import (
    BEHAVIOURS,
    MinerFarm,
    ScriptedMiner,
    correct,
    paraphrasing,
    signed,
)

from .conftest import targets
from .fake_judge import FakeJudge

TIMEOUT = 0.6  # slow miners sleep twice as long; honest ones answer in 50 ms
HONEST_DELAY = 0.05
CANNED = "Here is what I found about your question, I hope it helps you with it."


def canned(prompt: str) -> str:
    """A copy ring: right on verifiable tasks, one shared text on every open question."""
    return CANNED if find_question(prompt) else correct(prompt)


async def _populate(farm: MinerFarm) -> None:
    miners = {
        "correct": ScriptedMiner(delay_s=HONEST_DELAY, record=True),
        "old-text": ScriptedMiner(
            answer=signed(paraphrasing, "t"), key="text", delay_s=HONEST_DELAY
        ),
        "old-answer": ScriptedMiner(
            answer=signed(correct, "a"), key="answer", delay_s=HONEST_DELAY
        ),
        "flaky": ScriptedMiner(answer=signed(correct, "f"), fail_every=2, delay_s=HONEST_DELAY),
        "sluggish": ScriptedMiner(answer=signed(correct, "s"), delay_s=0.25),
        "wrong": ScriptedMiner(answer=BEHAVIOURS["wrong"], delay_s=HONEST_DELAY),
        "echo": ScriptedMiner(answer=BEHAVIOURS["echo"], delay_s=HONEST_DELAY),
        "empty": ScriptedMiner(answer=BEHAVIOURS["empty"], delay_s=HONEST_DELAY),
        "copier-1": ScriptedMiner(answer=canned, delay_s=HONEST_DELAY),
        "copier-2": ScriptedMiner(answer=canned, delay_s=2 * HONEST_DELAY),
        "slow": ScriptedMiner(delay_s=2 * TIMEOUT),
    }
    for miner_id, miner in miners.items():
        await farm.add(miner_id, miner)
    farm.add_down("down")


@dataclass
class Epoch:
    rounds: list[RoundResult]
    scores: dict[str, MinerScore]
    farm: MinerFarm  # closed; its miners keep what they recorded


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def epoch(embedder: EmbeddingScorer) -> Epoch:
    """Two rounds of the llm subnet against every kind of scripted miner (run once)."""
    async with MinerFarm() as farm, ProbeClient() as client:
        await _populate(farm)
        miners = targets(farm)
        rounds = [
            await run_round(
                miners,
                "llm",
                rng_seed=seed,
                client=client,
                timeout=TIMEOUT,
                embedder=embedder,
                bank=sample_bank(),
            )
            for seed in (101, 202)
        ]
    availability = {m.miner_id: 1.0 for m in miners if m.miner_id != "down"}
    return Epoch(rounds, score_epoch(rounds, availability), farm)


def _evidence(rounds: list[RoundResult], miner_id: str) -> list[Evidence]:
    return [e for r in rounds for e in r.evidence if e.miner_id == miner_id]


def test_the_ranking_puts_honest_miners_first_and_failures_last(epoch: Epoch) -> None:
    scores = epoch.scores
    total = {m: s.total for m, s in scores.items()}
    assert abs(total["old-text"] - total["correct"]) < 0.1
    assert abs(total["old-answer"] - total["correct"]) < 0.1
    assert min(total["correct"], total["old-text"], total["old-answer"]) > total["flaky"]
    assert total["flaky"] > 0.0
    # junk earns nothing in any component, however fast and available it is
    assert total["wrong"] == total["echo"] == total["empty"] == total["down"] == 0.0
    assert total["correct"] > max(total["copier-1"], total["copier-2"])
    assert total["correct"] > total["sluggish"] > total["slow"] == 0.0
    assert scores["correct"].quality == 1.0 and scores["old-answer"].quality >= 0.9


def test_every_miner_is_scored_on_every_challenge(epoch: Epoch) -> None:
    rounds, scores = epoch.rounds, epoch.scores
    assert len(scores) == 12
    assert all(s.probes == 16 for s in scores.values())
    assert all(len(r.evidence) == 12 * 8 for r in rounds)


def test_penalties_zero_the_answer_and_say_why(epoch: Epoch) -> None:
    rounds = epoch.rounds
    for e in _evidence(rounds, "echo"):
        assert (e.score, e.verdict, e.reason) == (0.0, "penalty", "answer echoes the prompt")
    for e in _evidence(rounds, "empty"):
        assert (e.score, e.verdict, e.reason) == (0.0, "penalty", "empty answer")
    for r in rounds:  # four identical canned answers per round: the first miner's are no copy
        canned_ones = [
            e for e in r.evidence if e.miner_id.startswith("copier") and e.family == "open"
        ]
        assert len(canned_ones) == 4
        copies = [e for e in canned_ones if e.verdict == "penalty"]
        assert len(copies) == 2 and all(e.score == 0.0 for e in copies)
        assert {e.miner_id for e in copies} == {"copier-2"}
        originals = {e.miner_id for e in canned_ones if e.verdict != "penalty"}
        assert originals == {"copier-1"}  # it answers faster; repeating itself copies nobody
        assert {e.reason for e in copies} == {"copying: the same answer miner copier-1 gave first"}
    for copier in ("copier-1", "copier-2"):
        assert all(e.passed for e in _evidence(rounds, copier) if e.family != "open")
    assert all(e.passed for e in _evidence(rounds, "correct"))


def test_a_timeout_is_a_failed_participation_and_errors_are_explained(epoch: Epoch) -> None:
    rounds, scores = epoch.rounds, epoch.scores
    for e in _evidence(rounds, "slow"):
        assert (e.status, e.verdict, e.latency_s) == ("timeout", "timeout", None)
        assert e.reason == f"no answer within {TIMEOUT:g}s"
    assert scores["slow"].participation == 0.0 and scores["slow"].quality == 0.0
    assert scores["flaky"].participation == 0.5
    assert {e.reason for e in _evidence(rounds, "flaky") if e.verdict == "error"} == {"HTTP 500"}
    down = _evidence(rounds, "down")
    assert all(e.reason.startswith("cannot connect to 127.0.0.1") for e in down)
    assert scores["down"].participation == 0.0


def test_old_answer_keys_are_accepted(epoch: Epoch) -> None:
    rounds, scores = epoch.rounds, epoch.scores
    for miner_id in ("old-text", "old-answer"):
        assert scores[miner_id].participation == 1.0
        assert all(e.answer for e in _evidence(rounds, miner_id))


def test_latency_is_measured_and_speed_is_credited_only_for_passing_answers(epoch: Epoch) -> None:
    rounds, scores = epoch.rounds, epoch.scores
    sluggish = _evidence(rounds, "sluggish")
    assert all(e.passed and e.latency_s is not None and e.latency_s >= 0.25 for e in sluggish)
    assert all(
        e.latency_s is not None and e.latency_s >= HONEST_DELAY
        for e in _evidence(rounds, "correct")
    )
    assert scores["correct"].quality == 1.0 and scores["sluggish"].quality >= 0.99
    assert scores["sluggish"].speed < 0.5 < scores["correct"].speed
    wrong = _evidence(rounds, "wrong")
    assert all(e.latency_s is not None for e in wrong)
    assert all(e.speed == 0.0 for e in wrong) and scores["wrong"].speed == 0.0
    for r in rounds:  # per family: the median pace (latency per expected word) of passes
        assert set(r.medians) == {c.family for c in r.challenges}
        assert all(m is not None and 0 < m <= 2 * TIMEOUT for m in r.medians.values())


def test_rounds_with_different_seeds_send_different_challenges(epoch: Epoch) -> None:
    rounds = epoch.rounds
    seen = epoch.farm.miners["correct"].seen
    first, second = {s.body for s in seen[:8]}, {s.body for s in seen[8:]}
    assert len(first) == len(second) == 8 and not first & second
    assert {c.hash for c in rounds[0].challenges}.isdisjoint(c.hash for c in rounds[1].challenges)
    assert set(rounds[0].commitments()) == {c.id for c in rounds[0].challenges}


def test_probes_are_sent_as_the_gateway_sends_user_requests(epoch: Epoch) -> None:
    for request in epoch.farm.miners["correct"].seen:
        assert (request.method, request.path) == ("POST", "/api/chat")
        assert list(request.headers) == ["host", "accept", "content-type", "content-length"]
        body = json.loads(request.body)
        assert list(body) == ["prompt", "temperature", "max_tokens"]
        assert request.body == chat_body(body)


async def test_the_same_seed_replays_the_same_round(
    farm: MinerFarm, client: ProbeClient, embedder: EmbeddingScorer
) -> None:
    for miner_id in ("correct", "wrong", "echo"):
        await farm.add(miner_id, ScriptedMiner(answer=BEHAVIOURS[miner_id]))
    miners = targets(farm)
    a = await run_round(miners, "llm", rng_seed=7, client=client, timeout=5, embedder=embedder)
    b = await run_round(miners, "llm", rng_seed=7, client=client, timeout=5, embedder=embedder)
    assert a.challenges == b.challenges and a.round_id == b.round_id
    assert [(e.challenge_id, e.miner_id, e.score, e.verdict, e.reason) for e in a.evidence] == [
        (e.challenge_id, e.miner_id, e.score, e.verdict, e.reason) for e in b.evidence
    ]


async def test_encoding_while_probing_gives_the_same_scores(
    farm: MinerFarm, client: ProbeClient, embedder: EmbeddingScorer
) -> None:
    for i in range(6):
        await farm.add(f"m{i}", ScriptedMiner(answer=signed(paraphrasing, f"m{i}")))
    open_only = Subnet("qa", mix={"open": 1.0}, challenges_per_round=3)
    runs = [
        await run_round(
            targets(farm),
            open_only,
            rng_seed=9,
            client=client,
            timeout=5,
            embedder=EmbeddingScorer(batch_size=4),  # cold cache, small batches: it encodes
            options=RoundOptions(overlap_embedding=overlap),
            bank=sample_bank(),
        )
        for overlap in (False, True)
    ]
    plain, overlapped = (r.evidence for r in runs)
    assert [(e.miner_id, e.verdict) for e in plain] == [(e.miner_id, e.verdict) for e in overlapped]
    assert [e.score for e in plain] == pytest.approx([e.score for e in overlapped], abs=1e-3)
    assert all(e.passed for e in plain)


async def test_open_answers_are_judged_when_a_judge_is_configured(
    farm: MinerFarm, client: ProbeClient
) -> None:
    await farm.add("correct", ScriptedMiner())
    judge_server = FakeJudge(content="87")
    await judge_server.start()
    open_only = Subnet("qa", mix={"open": 1.0}, challenges_per_round=2)
    async with httpx.AsyncClient() as http:
        judge = JudgeScorer(judge_server.url, "m", client=http)
        result = await run_round(
            targets(farm),
            open_only,
            rng_seed=3,
            client=client,
            timeout=5,
            judge=judge,
            bank=sample_bank(),
        )
    await judge_server.close()
    assert [(e.score, e.reason) for e in result.evidence] == [(0.87, "judge grade 87")] * 2
    assert len(judge_server.bodies) == 2


async def test_a_multi_model_miner_is_probed_on_its_model_path(
    farm: MinerFarm, client: ProbeClient, embedder: EmbeddingScorer
) -> None:
    miner = ScriptedMiner(record=True)
    url = await farm.add("multi", miner)
    target = MinerTarget("multi", url, model_type="llm")
    await run_round([target], "llm", rng_seed=5, client=client, timeout=5, embedder=embedder)
    assert {s.path for s in miner.seen} == {"/api/chat/llm"}


async def test_duplicate_miner_ids_are_refused(client: ProbeClient) -> None:
    twins = [MinerTarget("a", "http://127.0.0.1:9"), MinerTarget("a", "http://127.0.0.1:10")]
    with pytest.raises(ValueError, match="unique"):
        await run_round(twins, "llm", rng_seed=1, client=client)
