"""The LLM judge against a fake OpenAI-compatible server on loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from tensornode.config import ValidatorSettings
from tensornode.scoring import make_judge
from tensornode.scoring.scorers.judge import JudgeError, JudgeScorer, parse_grade

from .fake_judge import FakeJudge


@pytest.fixture
async def judge_server() -> AsyncIterator[FakeJudge]:
    server = FakeJudge()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


async def test_a_grade_of_87_scores_0_87_asked_at_temperature_zero(
    judge_server: FakeJudge, http: httpx.AsyncClient
) -> None:
    judge = JudgeScorer(judge_server.url, "judge-model", client=http, api_key="sk-test")
    out = await judge.score("What is 6 x 7?", "42", "It is 42.")
    assert out.score == 0.87 and out.reason == "judge grade 87"
    body = judge_server.bodies[0]
    assert body["temperature"] == 0 and body["model"] == "judge-model"
    assert "Reference answer: 42" in body["messages"][-1]["content"]
    assert "Candidate answer: It is 42." in body["messages"][-1]["content"]
    assert judge_server.headers[0]["authorization"] == "Bearer sk-test"


async def test_garbage_from_the_judge_falls_back_to_the_heuristic(
    judge_server: FakeJudge, http: httpx.AsyncClient
) -> None:
    judge_server.content = "I would rather not grade this."
    judge = JudgeScorer(judge_server.url, "m", client=http)
    out = await judge.score("What is 6 x 7?", "42", "The answer is 42.")
    assert out.score == 1.0
    assert out.reason.startswith("judge failed (no single grade 0-100")
    assert "fallback heuristic: 100% of the numbers match" in out.reason


async def test_a_failing_or_absent_judge_falls_back_too(
    judge_server: FakeJudge, http: httpx.AsyncClient
) -> None:
    judge_server.status = 500
    judge = JudgeScorer(judge_server.url, "m", client=http)
    out = await judge.score("Capital of France?", "Paris", "It is Paris.")
    assert out.score == 0.95
    assert (
        out.reason
        == "judge failed (HTTP 500); fallback heuristic: the expected answer appears in the reply"
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    absent = JudgeScorer(f"http://127.0.0.1:{port}/v1", "m", client=http)
    gone = await absent.score("Capital of France?", "Paris", "no idea")
    assert gone.score == 0.0 and gone.reason.startswith("judge failed (ConnectError")


def test_grades_are_read_strictly() -> None:
    assert parse_grade(" 87\n") == 87
    assert parse_grade("Score: 87/100") == 87
    for bad in ("", "101", "between 80 and 90", "eighty"):
        with pytest.raises(JudgeError):
            parse_grade(bad)


async def test_the_judge_is_off_unless_a_url_is_set(http: httpx.AsyncClient) -> None:
    assert make_judge(ValidatorSettings(), http) is None
    judge = make_judge(ValidatorSettings(judge_url="http://127.0.0.1:9/v1", judge_model="x"), http)
    assert judge is not None and judge.url == "http://127.0.0.1:9/v1/chat/completions"
