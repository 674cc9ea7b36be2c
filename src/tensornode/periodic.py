"""One background pass on an interval, with a burst mode for tests (the validator loop,
the epoch scheduler)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``pass_`` every ``interval`` seconds (the first after one interval) until
    closed; a failed pass is logged and the loop goes on."""

    def __init__(self, name: str, interval: float, pass_: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self._pass = pass_
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        # the first pass waits one interval: a coordinator just started has miners coming up
        while not await self._stopped_within(self.interval):
            try:
                await self._pass()
            except Exception:  # one bad pass (a database hiccup) must not end the loop
                log.exception("%s pass failed", self.name)

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            return False  # the interval elapsed: time for a pass
        return True

    async def close(self) -> None:
        """Stop the loop (a pass in progress is cancelled). Safe to call twice."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task])
            self._task = None
