"""Scorers: answer extraction from longer replies, numeric tolerance, lists, JSON, fallback."""

from __future__ import annotations

import pytest

from tensornode.scoring.scorers import (
    score_exact,
    score_fallback,
    score_json_fields,
    score_numeric,
    score_sequence,
)
from tensornode.scoring.scorers.text import extract_number, normalize


@pytest.mark.parametrize(
    ("reply", "number"),
    [
        ("42", 42),
        ("The answer is 1,234.", 1234),
        ("347 * 12 - 589 = 3575", 3575),
        ("First 6 * 7 gives 42, then we add 8.\nAnswer: 50", 50),
        ("**-723**", -723),
        ("There are twelve of them.", 12),
        ("Result: 3.14 metres", 3.14),
        ("no digits here", None),
    ],
)
def test_the_answer_number_is_found_in_a_longer_reply(reply: str, number: float | None) -> None:
    assert extract_number(reply) == number


def test_numeric_match_honours_the_tolerance() -> None:
    assert score_numeric("36.37", "about 36.37", abs_tol=0.0101).score == 1.0
    assert score_numeric("36.37", "36.38", abs_tol=0.0101).score == 1.0
    assert score_numeric("36.37", "36.40", abs_tol=0.0101).score == 0.0
    assert score_numeric("772.16", "772", rel_tol=0.01).score == 1.0
    out = score_numeric("42", "41")
    assert out.score == 0.0 and out.reason == "expected 42, got 41"


def test_exact_match_normalises_case_quotes_and_punctuation() -> None:
    assert normalize('  "FedCBA."  ') == "fedcba"
    assert score_exact("fedcba", 'The reversed string is "FEDCBA".').score == 1.0
    assert score_exact("fedcba", "Reversed: **fedcba**").score == 1.0
    assert score_exact("fedcba", "Here you go.\nfedcba").score == 1.0
    assert score_exact("fedcba", "abcdef").score == 0.0


def test_a_list_matches_on_its_last_items_so_restating_the_input_is_fine() -> None:
    expected = "3, 7, 19, 42"
    assert score_sequence(expected, "3, 7, 19, 42").score == 1.0
    assert score_sequence(expected, "Given 42, 7, 19, 3 the order is 3, 7, 19, 42.").score == 1.0
    assert score_sequence(expected, "7, 3, 19, 42").score == 0.0
    words = "apple, river, tiger"
    assert score_sequence(words, "Sorted: Apple, River, Tiger").score == 1.0


def test_json_fields_score_the_share_that_is_right() -> None:
    expected = '{"name": "Maria Lopez", "age": 34, "city": "Lisbon", "job": "nurse"}'
    reply = (
        'Sure:\n```json\n{"name": "maria lopez", "age": "34", "city": "Lisbon", '
        '"job": "doctor"}\n```'
    )
    out = score_json_fields(expected, reply)
    assert out.score == 0.75 and out.reason == "fields wrong or missing: job"
    assert score_json_fields(expected, "no json").reason == "no JSON object in the answer"


@pytest.mark.parametrize(
    ("truth", "answer", "score"),
    [
        ("12 apples and 30 pears", "12 apples, 30 pears", 1.0),
        ("1 2 3", "1 and 2", 0.75),
        ("1 2 3", "only 1", 0.40),
        ("1 2 3 4", "4 alone", 0.25),
        ("Paris", "I think it is paris.", 0.95),
        ("the quick brown fox", "a quick fox", 0.45),
    ],
)
def test_the_fallback_heuristic_keeps_the_prior_tiers(
    truth: str, answer: str, score: float
) -> None:
    assert score_fallback(truth, answer).score == pytest.approx(score)
