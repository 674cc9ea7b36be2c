"""A user who leaves cancels the task serving them: :class:`Leaving`.

The task itself does the work (no second task per request on the hot path); once
started, a watcher task awaits ``disconnected()`` and then cancels it, unless the work
is done by then. The task tells the two cancellations apart by :attr:`Leaving.gone`
(then it ``uncancel()``s and ends quietly) and re-raises any other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any


def disconnect_of(
    receive: Callable[[], Awaitable[Mapping[str, Any]]],
) -> Callable[[], Awaitable[None]]:
    """A ``disconnected()`` for an ASGI ``receive`` (whose request body has been read):
    it returns once the server reports ``http.disconnect``."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    return disconnected


class Leaving:
    """Cancels ``task`` when its user disconnects (once :meth:`start`\\ ed)."""

    __slots__ = ("disconnected", "done", "gone", "task", "watcher")

    def __init__(
        self, task: asyncio.Task[Any], disconnected: Callable[[], Awaitable[None]]
    ) -> None:
        self.task = task
        self.disconnected = disconnected
        self.gone = False  # the user left (and the task was cancelled, unless done)
        self.done = False  # the work is over: leaving now cancels nothing
        self.watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.watcher = self.task.get_loop().create_task(self._watch())

    async def _watch(self) -> None:
        await self.disconnected()
        self.gone = True
        if not self.done:
            self.task.cancel()

    def stop(self) -> None:
        """The work is over: stop watching."""
        self.done = True
        if self.watcher is not None:
            self.watcher.cancel()
