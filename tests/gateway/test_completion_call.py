"""A chat completion body read by hand (the hot path) means what the models make of it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensornode.errors import InvalidInput
from tensornode.gateway.completion_call import completion_call, models_call, plain_call
from tensornode.gateway.fastjson import dumps

USER = [{"role": "user", "content": "hello there"}]

PLAIN = [
    {"model": "llm", "messages": USER},
    {"model": "tensornode/llm", "messages": USER, "stream": True},
    {"model": "llm", "messages": USER, "max_tokens": 7, "temperature": 0, "seed": 3},
    {"model": "llm", "messages": USER, "max_completion_tokens": 9, "max_tokens": 4},
    {"model": "llm", "messages": USER, "temperature": 1.5, "stop": "\n", "n": 1},
    {"model": "llm", "messages": USER, "stop": ["a", "b"], "stream": True,
     "stream_options": {"include_usage": True}, "user": "someone"},
    {"model": "llm", "messages": [{"role": "system", "content": "Be terse."}, *USER]},
]  # fmt: skip

FOR_THE_MODELS = [
    {"model": "llm", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]},
    {"model": "llm", "messages": USER, "temperature": "0.5"},
    {"model": "llm", "messages": USER, "max_tokens": 2.0},
    {"model": "llm", "messages": USER, "stream": 1},
    {"model": "llm", "messages": USER, "n": True},
]

REFUSED = [
    ({}, "model"),
    ({"model": "llm", "messages": []}, "messages"),
    ({"model": "llm", "messages": [{"role": "user", "content": "  "}]}, "messages"),
    ({"model": "llm", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ({"model": "llm", "messages": USER, "temperature": 2.5}, "temperature"),
    ({"model": "llm", "messages": USER, "n": 2}, "n"),
    ({"model": "llm", "messages": USER, "stop": [1]}, "stop"),
    ({"model": 5, "messages": USER}, "model"),
]


@pytest.mark.parametrize("body", PLAIN)
def test_a_plain_body_is_read_by_hand_as_the_models_read_it(body: dict[str, Any]) -> None:
    by_hand = plain_call(body)
    assert by_hand is not None
    assert by_hand == models_call(body)


@pytest.mark.parametrize("body", FOR_THE_MODELS)
def test_anything_unusual_is_left_to_the_models(body: dict[str, Any]) -> None:
    assert plain_call(body) is None
    assert completion_call(dumps(body)) == models_call(body)


@pytest.mark.parametrize(("body", "field"), REFUSED)
def test_a_bad_body_is_refused_with_the_models_words(body: dict[str, Any], field: str) -> None:
    assert plain_call(body) is None
    with pytest.raises(InvalidInput) as refused:
        completion_call(dumps(body))
    assert refused.value.message.startswith(field)


SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 300), st.floats(-1, 3), st.text(max_size=3)
)


@given(
    max_tokens=SCALARS,
    temperature=SCALARS,
    seed=SCALARS,
    stop=st.one_of(SCALARS, st.lists(SCALARS, max_size=2)),
    stream=SCALARS,
    n=SCALARS,
    content=st.text(max_size=4),
)
def test_whatever_the_hand_accepts_the_models_accept_alike(**fields: Any) -> None:
    content = fields.pop("content")
    body = {"model": "llm", "messages": [{"role": "user", "content": content}]}
    body.update((k, v) for k, v in fields.items() if v is not None)
    by_hand = plain_call(body)
    if by_hand is not None:
        assert by_hand == models_call(body)
