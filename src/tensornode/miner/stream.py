"""An answer being generated, piece by piece: what a streaming chat reads.

:class:`ChatStream` wraps one request queued on a model's batcher. Iterating it gives
the text as it grows (each piece new text, whole UTF-8 characters, never past a stop
string); when iteration ends, :attr:`ChatStream.result` is the whole answer. Closing it
early (the client went away) cancels the request, which stops its generation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from tensornode.miner.backends.base import GenerationResult


class ChatStream:
    """The text of one queued request as it is generated."""

    def __init__(self) -> None:
        self._texts: asyncio.Queue[str | None] = asyncio.Queue()
        self._future: asyncio.Future[GenerationResult] | None = None
        self._sent = 0
        self.result: GenerationResult | None = None

    @classmethod
    def finished(cls, result: GenerationResult) -> ChatStream:
        """A stream of an answer already known (a cache hit): one piece."""
        stream = cls()
        stream._texts.put_nowait(result.text)
        stream._texts.put_nowait(None)
        stream.result = result
        return stream

    def on_text(self, text: str) -> None:
        """The request's text so far (the batcher calls this on the event loop)."""
        self._texts.put_nowait(text)

    def follow(self, future: asyncio.Future[GenerationResult]) -> None:
        """Read the request whose result ``future`` will hold."""
        self._future = future
        future.add_done_callback(lambda _: self._texts.put_nowait(None))

    async def __aiter__(self) -> AsyncIterator[str]:
        while (text := await self._texts.get()) is not None:
            if len(text) > self._sent:
                piece, self._sent = text[self._sent :], len(text)
                yield piece
        if self.result is None:
            assert self._future is not None
            self.result = self._future.result()  # the backend's error, if it failed
        rest = self.result.text[self._sent :]
        if rest:
            self._sent = len(self.result.text)
            yield rest

    def close(self) -> None:
        """Abandon the request (its generation stops); idempotent."""
        if self._future is not None and not self._future.done():
            self._future.cancel()
