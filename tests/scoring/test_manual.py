"""Manual validation: one question and its expected answer sent to a list of miners."""

from __future__ import annotations

import pytest

from tensornode.config import ValidatorSettings
from tensornode.errors import InvalidInput, NotFound
from tensornode.scoring import (
    ComponentWeights,
    get_subnet,
    round_options,
    subnet_from_settings,
    validate_manually,
)
from tensornode.scoring.probe import ProbeClient
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.sim import MinerFarm, ScriptedMiner

from .conftest import targets


async def test_each_miner_gets_its_answer_latency_and_score(
    farm: MinerFarm, client: ProbeClient
) -> None:
    await farm.add("right", ScriptedMiner(answer=lambda p: "Six times seven is 42."))
    await farm.add("old", ScriptedMiner(answer=lambda p: "42", key="output"))
    await farm.add("off", ScriptedMiner(answer=lambda p: "41"))
    await farm.add("echo", ScriptedMiner(answer=lambda p: p))
    farm.add_down("down")
    results = await validate_manually(
        targets(farm), "What is six times seven?", "42", client=client, timeout=5
    )
    by_id = {r.miner_id: r for r in results}
    assert [r.miner_id for r in results] == ["right", "old", "off", "echo", "down"]
    assert (by_id["right"].score, by_id["right"].verdict, by_id["right"].method) == (
        1.0,
        "pass",
        "numeric",
    )
    assert (
        by_id["right"].latency_s is not None and by_id["right"].answer == "Six times seven is 42."
    )
    assert by_id["old"].score == 1.0
    assert (by_id["off"].score, by_id["off"].reason) == (0.0, "expected 42, got 41")
    assert (by_id["echo"].verdict, by_id["echo"].reason) == ("penalty", "answer echoes the prompt")
    assert by_id["down"].verdict == "error" and by_id["down"].latency_s is None


async def test_a_text_answer_is_scored_by_meaning(
    farm: MinerFarm, client: ProbeClient, embedder: EmbeddingScorer
) -> None:
    await farm.add("para", ScriptedMiner(answer=lambda p: "France's capital city is Paris."))
    await farm.add("off", ScriptedMiner(answer=lambda p: "I like turtles very much."))
    para, off = await validate_manually(
        targets(farm),
        "What is the capital of France?",
        "Paris is the capital of France.",
        client=client,
        embedder=embedder,
    )
    assert (para.method, para.verdict) == ("embedding", "pass")
    assert off.verdict == "fail" and off.score < 0.3


async def test_bad_manual_requests_are_refused(client: ProbeClient) -> None:
    with pytest.raises(InvalidInput, match="must not be empty"):
        await validate_manually([], "  ", "x", client=client)
    with pytest.raises(InvalidInput, match="no LLM judge"):
        await validate_manually([], "q", "x", client=client, method="judge")


def test_settings_override_a_subnets_weights_and_threshold() -> None:
    settings = ValidatorSettings(
        weights={"llm": {"quality": 0.7, "speed": 0.1, "availability": 0.1, "participation": 0.1}},
        pass_threshold=0.8,
        challenges_per_round=4,
    )
    llm = subnet_from_settings("llm", settings)
    assert llm.weights == ComponentWeights(0.7, 0.1, 0.1, 0.1)
    assert get_subnet("llm").weights == ComponentWeights()
    options = round_options(settings, llm)
    assert (options.grading.pass_threshold, options.challenges) == (0.8, 4)
    with pytest.raises(NotFound, match="unknown subnet 'vision'"):
        subnet_from_settings("vision", settings)
