"""Server-sent events read as they arrive, however the bytes are split."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tensornode.sse import EventReader, event


def _read(chunks: list[bytes]) -> list[bytes]:
    reader = EventReader()
    return [data for chunk in chunks for data in reader.feed(chunk)]


def test_one_whole_event_per_chunk() -> None:
    chunks = [event({"response": "a"}), event({"response": "b"}), b"data: [DONE]\n\n"]
    assert _read(chunks) == [b'{"response":"a"}', b'{"response":"b"}', b"[DONE]"]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([b"data: one\n\ndata: two\n\n"], [b"one", b"two"]),
        ([b"data: a\ndata: b\n\n"], [b"a\nb"]),
        ([b"data: x\r\n\r\n"], [b"x"]),
        ([b": a comment\n\n", b"data: y\n\n"], [b"y"]),
        ([b"event: ping\ndata: z\n\n"], [b"z"]),
        ([b"data: par", b"tial\n", b"\n"], [b"partial"]),
        ([b"data: a\n", b"\ndata: b\n\n"], [b"a", b"b"]),
        ([b"data:tight\n\n"], [b"tight"]),
    ],
)
def test_events_split_and_joined_anyhow(chunks: list[bytes], expected: list[bytes]) -> None:
    assert _read(chunks) == expected


@given(
    payloads=st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n")), max_size=6),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_any_split_gives_the_same_events(payloads: list[str], cuts: list[int]) -> None:
    stream = b"".join(b"data: " + p.encode() + b"\n\n" for p in payloads)
    points = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    assert _read(chunks) == [p.encode() for p in payloads]


@given(text=st.text())
def test_a_content_chunk_is_the_json_of_its_delta(text: str) -> None:
    import json

    from tensornode.openai_compat import CompletionChunks

    chunk = CompletionChunks("llm", include_usage=False).content(text)
    assert chunk.startswith(b"data: ") and chunk.endswith(b"\n\n")
    body = json.loads(chunk[6:-2])
    assert body["object"] == "chat.completion.chunk" and body["model"] == "llm"
    assert body["choices"] == [
        {"index": 0, "delta": {"content": text}, "finish_reason": None, "logprobs": None}
    ]
