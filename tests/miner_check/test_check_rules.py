"""The pure rules behind ``miner check``: uptime text, field types, usage counts."""

from __future__ import annotations

import pytest

from tensornode.miner.check_rules import (
    HEALTH_FIELDS,
    field_problems,
    parse_uptime,
    usage_problem,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h 15m 30s", 8130.0),
        ("0h 0m 0s", 0.0),
        ("45s", 45.0),
        ("1d 2h", 93600.0),
        ("3m", 180.0),
        ("1h 0m 1.5s", 3601.5),
    ],
)
def test_parse_uptime_reads_the_guides_format(text: str, seconds: float) -> None:
    assert parse_uptime(text) == seconds


@pytest.mark.parametrize("text", ["", "up a while", "12:30:00", "5 minutes", "2h 15x"])
def test_parse_uptime_refuses_other_text(text: str) -> None:
    assert parse_uptime(text) is None


def test_field_problems_name_each_field() -> None:
    body = {"status": "healthy", "model_loaded": 1, "uptime": None}

    assert field_problems(body, HEALTH_FIELDS) == [
        "'model_loaded' is an integer, expected a boolean",
        "'uptime' is null, expected a string",
    ]
    assert field_problems({}, {"max_context_length": "an integer"}) == [
        "missing 'max_context_length'"
    ]
    assert field_problems({"n": True}, {"n": "an integer"}) == [
        "'n' is a boolean, expected an integer"
    ]


@pytest.mark.parametrize(
    ("usage", "problem"),
    [
        ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, None),
        ({"prompt_tokens": 3, "completion_tokens": 4}, None),
        (None, "no 'usage' token counts (optional; the gateway then reports zeros)"),
        ([1, 2], "'usage' is an array, expected an object"),
        ({"prompt_tokens": 3}, "usage: missing 'completion_tokens'"),
        (
            {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 9},
            "usage: total_tokens 9 is not 3 + 4",
        ),
        (
            {"prompt_tokens": 3, "completion_tokens": 40},
            "usage: completion_tokens 40 exceeds the max_tokens 16 asked",
        ),
    ],
)
def test_usage_problem(usage: object, problem: str | None) -> None:
    assert usage_problem(usage, 16) == problem
