"""The relayed stream's response: head at once, pieces as they come, leaving noticed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tensornode.gateway.event_stream import EventStreamResponse

SCOPE: dict[str, Any] = {"type": "http", "asgi": {"spec_version": "2.3"}}


class Relay:
    """A body that yields ``pieces`` (waiting ``gap_s`` before each) and notes its end."""

    def __init__(self, pieces: list[bytes], gap_s: float = 0.0) -> None:
        self.pieces, self.gap_s = pieces, gap_s
        self.ended = ""
        self.closed = 0

    async def body(self) -> AsyncIterator[bytes]:
        self.ended = "cancelled"
        try:
            for piece in self.pieces:
                await asyncio.sleep(self.gap_s)
                yield piece
            self.ended = "ok"
        finally:
            self.closed += 1


async def _never() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_the_head_then_each_piece_then_the_end() -> None:
    relay, sent, closed = Relay([b"a", b"b"]), [], []
    response = EventStreamResponse(
        relay.body(), headers={"X-Test": "1"}, on_close=lambda: closed.append(1)
    )

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await response(SCOPE, _never, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert (b"x-test", b"1") in sent[0]["headers"]
    assert (b"content-type", b"text/event-stream; charset=utf-8") in sent[0]["headers"]
    assert not any(name == b"content-length" for name, _ in sent[0]["headers"])
    assert [m.get("body") for m in sent[1:]] == [b"a", b"b", b""]
    assert sent[-1]["more_body"] is False
    assert relay.ended == "ok" and closed == [1]


async def test_a_user_who_leaves_cancels_the_relay_and_the_response_ends_quietly() -> None:
    relay, sent, closed = Relay([b"a"] * 100, gap_s=0.02), [], []
    response = EventStreamResponse(relay.body(), on_close=lambda: closed.append(1))
    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 3:
            gone.set()

    await asyncio.wait_for(response(SCOPE, receive, send), 5)
    assert relay.ended == "cancelled" and relay.closed == 1
    assert len(sent) < 10 and closed == [1]
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0


async def test_a_response_that_fails_before_its_body_began_still_closes() -> None:
    relay, closed = Relay([b"a"]), []
    response = EventStreamResponse(relay.body(), on_close=lambda: closed.append(1))

    async def send(message: dict[str, Any]) -> None:
        raise OSError("the connection is gone")

    with pytest.raises(OSError):
        await response(SCOPE, _never, send)
    assert closed == [1] and relay.ended == ""  # the relay never began; on_close freed it
