"""A relayed stream as an HTTP response: its head written at once, its pieces as they come,
the user's leaving noticed at once.

Starlette's ``StreamingResponse``, under a server speaking ASGI 2.3 (uvicorn), watches
for the disconnect in an anyio task group it starts per response: on the 2-core bench
machine that was ~0.25 ms between the relay's first piece and the head going out, on
the path of every stream's first token. :class:`EventStreamResponse` is a ``Response``
subclass (FastAPI's documented way to a response of one's own): it sends the head, then
starts one plain task that waits for ``http.disconnect`` (leaving.py); when the user
leaves, that task cancels the relay, whose ``finally`` closes the miner's connection
(which stops the generation there), and the response ends quietly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tensornode.gateway.leaving import Leaving, disconnect_of
from tensornode.sse import EVENT_STREAM


class EventStreamResponse(Response):
    """``text/event-stream``: each piece of ``body``; then ``on_close``, however the
    response ended (even before ``body`` began)."""

    media_type = EVENT_STREAM

    def __init__(
        self,
        body: AsyncIterator[bytes],
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        # not Response.__init__: that renders a body and gives it a Content-Length
        self.body_iterator = body
        self.on_close = on_close
        self.status_code = status_code
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None
        leaving = Leaving(task, disconnect_of(receive))
        try:
            head = {"status": self.status_code, "headers": self.raw_headers}
            await send({"type": "http.response.start", **head})
            leaving.start()
            async for piece in self.body_iterator:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
            leaving.done = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not leaving.gone:
                raise
            task.uncancel()  # the user left: the relay has ended, nothing more to say
        finally:
            leaving.stop()
            close = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()
            if self.on_close is not None:
                self.on_close()
