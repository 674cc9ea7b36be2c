"""Challenge families: generated tasks are solvable, checkable, fresh per seed, committed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tensornode.errors import InvalidInput
from tensornode.scoring import get_subnet, plan_round
from tensornode.scoring.challenges import FAMILIES, solve_prompt
from tensornode.scoring.challenges.open_questions import QuestionBank, load_questions, sample_bank
from tensornode.scoring.round import plan_for_miners
from tensornode.scoring.schemas import challenge_hash


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_generated_task_is_solved_by_its_solver_and_passes_its_checker(name: str) -> None:
    family = FAMILIES[name]
    for seed in range(200):
        task = family.generate(random.Random(seed))
        answer = solve_prompt(task.prompt)
        assert answer == task.expected, task.prompt
        if family.check is not None:
            assert family.check(task.expected, answer).score == 1.0


@pytest.mark.parametrize("name", sorted(n for n, f in FAMILIES.items() if not f.open))
def test_a_wrong_answer_fails_every_verifiable_family(name: str) -> None:
    family = FAMILIES[name]
    assert family.check is not None
    for seed in range(50):
        task = family.generate(random.Random(seed))
        assert family.check(task.expected, "I am not sure about that.").score == 0.0


def test_the_shipped_open_questions_are_sixty_distinct_and_complete() -> None:
    questions = load_questions()
    assert len(questions) >= 60
    assert len({q.question for q in questions}) == len(questions)
    assert len({q.id for q in questions}) == len(questions)
    for q in questions:
        assert q.question.endswith("?") and len(q.reference.split()) >= 5
        assert q.paraphrase != q.reference


def test_the_same_seed_plans_the_same_round() -> None:
    llm = get_subnet("llm")
    assert plan_round(llm, 42) == plan_round(llm, 42)


def test_different_seeds_plan_different_prompts_answers_and_salts() -> None:
    llm = get_subnet("llm")
    a, b = plan_round(llm, 1), plan_round(llm, 2)
    assert not {c.prompt for c in a} & {c.prompt for c in b}
    assert a[0].salt != b[0].salt
    assert {c.id for c in a}.isdisjoint({c.id for c in b})


def test_open_prompts_vary_their_wording_across_rounds() -> None:
    llm, bank = get_subnet("llm"), sample_bank()
    prompts = {c.prompt for seed in range(40) for c in plan_round(llm, seed, bank=bank) if c.open}
    by_question: dict[str, set[str]] = {}
    for prompt in prompts:
        question = next(q.question for q in load_questions() if q.question in prompt)
        by_question.setdefault(question, set()).add(prompt)
    assert max(len(v) for v in by_question.values()) >= 2


def test_a_round_follows_the_llm_mix_and_commits_to_each_challenge() -> None:
    challenges = plan_round(get_subnet("llm"), 7, bank=sample_bank())
    families = sorted(c.family for c in challenges)
    assert families == sorted(
        ["open", "open", "arithmetic", "counting", "sorting", "strings", "extraction", "units"]
    )
    for c in challenges:
        assert c.hash == challenge_hash(c.salt, c.prompt, c.expected)
        assert c.verify(c.hash)
        assert not c.verify(challenge_hash(c.salt, c.prompt, c.expected + "x"))


def test_extraction_expected_answer_is_a_json_object_with_four_fields() -> None:
    task = FAMILIES["extraction"].generate(random.Random(3))
    assert set(json.loads(task.expected)) == {"name", "age", "city", "job"}


def test_without_a_private_bank_no_answer_key_a_miner_can_read_is_asked() -> None:
    llm = get_subnet("llm")
    shipped = {q.question for q in load_questions()}
    for seed in range(30):
        challenges = plan_round(llm, seed, miner_id="m1")
        assert len(challenges) == 8 and not any(c.open for c in challenges)
        assert not any(q in c.prompt for c in challenges for q in shipped)


def test_each_miner_gets_its_own_instances_of_the_same_mix() -> None:
    plans = plan_for_miners(get_subnet("llm"), 11, ["alpha", "beta", "gamma"])
    mixes = {tuple(sorted(c.family for c in plan)) for plan in plans.values()}
    assert len(mixes) == 1  # a fair comparison: the same families for everyone
    prompts = [{c.prompt for c in plan} for plan in plans.values()]
    assert all(a.isdisjoint(b) for i, a in enumerate(prompts) for b in prompts[i + 1 :])
    assert plan_for_miners(get_subnet("llm"), 11, ["alpha"])["alpha"] == plans["alpha"]


def test_a_private_bank_is_loaded_and_a_broken_one_named(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(
        json.dumps({"id": "p1", "question": "What colour is a ripe zorbleberry?",
                    "reference": "A ripe zorbleberry is deep violet."}) + "\n"
    )  # fmt: skip
    bank = QuestionBank.load(path)
    challenges = plan_round(get_subnet("llm"), 5, miner_id="m", bank=bank)
    open_ones = [c for c in challenges if c.open]
    assert len(open_ones) == 2
    assert all("zorbleberry" in c.prompt and "violet" in c.expected for c in open_ones)
    path.write_text('{"id": "p1", "question": "Why?"}\n')
    with pytest.raises(InvalidInput, match="line 1: not a question"):
        QuestionBank.load(path)
    with pytest.raises(InvalidInput, match="cannot read question bank"):
        QuestionBank.load(tmp_path / "missing.jsonl")


def test_planned_tasks_are_phrased_in_many_ways_and_still_solvable() -> None:
    llm = get_subnet("llm")
    challenges = [c for seed in range(60) for c in plan_round(llm, seed, miner_id="m")]
    openings = {" ".join(c.prompt.split()[:2]) for c in challenges if c.family == "arithmetic"}
    assert len(openings) >= 12  # no fixed opening a regex could key on
    for c in challenges:
        outcome = FAMILIES[c.family].check(c.expected, solve_prompt(c.prompt) or "")  # type: ignore[misc]
        assert outcome.score == 1.0, c.prompt


def test_a_miner_is_not_asked_the_same_bank_question_twice_in_a_round() -> None:
    bank, llm = sample_bank(), get_subnet("llm")
    for seed in range(30):
        asked = [c.question for c in plan_round(llm, seed, 12, miner_id="m", bank=bank) if c.open]
        assert len(asked) == len(set(asked)) or len(set(asked)) == len(bank.questions)
