"""Server-sent events as the miner API and OpenAI stream them: ``data: {json}`` events,
each ended by a blank line, and ``data: [DONE]`` last.

:func:`event` writes one; :class:`EventReader` takes bytes as they arrive (split
anywhere) and hands back each complete event's data.
"""

from __future__ import annotations

from typing import Any

import orjson

EVENT_STREAM = "text/event-stream"
DONE = b"[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"


def event(data: Any) -> bytes:
    """One event carrying ``data`` as compact JSON."""
    return b"data: " + orjson.dumps(data) + b"\n\n"


class EventReader:
    """Complete events' data out of a byte stream (``data:`` lines; others ignored)."""

    def __init__(self, *, max_event_bytes: int = 1 << 20) -> None:
        self._buffer = b""
        self.max_event_bytes = max_event_bytes

    def feed(self, chunk: bytes) -> list[bytes]:
        """The data of every event completed by ``chunk``; ValueError for an event
        longer than ``max_event_bytes``."""
        if not self._buffer and _one_line_event(chunk):  # the usual chunk: one whole event
            return [chunk[6:-2]]
        buffer = self._buffer + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        *complete, self._buffer = buffer.split(b"\n\n")
        if len(self._buffer) > self.max_event_bytes:
            raise ValueError(f"an event is longer than {self.max_event_bytes} bytes")
        return [data for raw in complete if (data := _data(raw)) is not None]

    @property
    def pending(self) -> bytes:
        """Bytes of an event not yet complete."""
        return self._buffer


def _one_line_event(chunk: bytes) -> bool:
    """``chunk`` is exactly one event of one ``data: `` line (no other line break)."""
    return (
        chunk.startswith(b"data: ")
        and chunk.endswith(b"\n\n")
        and chunk.find(b"\n") == len(chunk) - 2
        and b"\r" not in chunk
    )


def _data(raw: bytes) -> bytes | None:
    lines = [line[5:].removeprefix(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None
