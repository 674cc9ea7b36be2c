"""Background jobs of the coordinator: asyncio tasks, one per key, owned by the app lifespan.

A key is what a job works on (a VM id): submitting a job for a key whose previous job is
still running is refused (a monitor restart during a deployment); :meth:`JobRunner.replace`
cancels the running one first (a new deployment replaces the old one). On shutdown every
task is cancelled and awaited; what a cancelled job leaves in the database is picked up
by the next start (see ``coordinator/recovery.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from tensornode.errors import Conflict, ServiceUnavailable, TensorNodeError

log = logging.getLogger(__name__)


class JobRunner:
    """Tracks the coordinator's background tasks by key."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False

    @property
    def closing(self) -> bool:
        """True once shutdown began: jobs must not start new work."""
        return self._closing

    def submit(self, key: str, job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``job`` in the background under ``key``."""
        if self._closing:
            job.close()
            raise ServiceUnavailable("the coordinator is shutting down")
        current = self._tasks.get(key)
        if current is not None and not current.done():
            job.close()
            raise Conflict(f"a job for {key} is already running")
        task = asyncio.create_task(job, name=f"job:{key}")
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._finished(key, t))
        return task

    def _finished(self, key: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, TensorNodeError):
            # an awaited job (a restart) whose caller handles the error
            log.info("job failed: %s", exc, extra={"key": key})
        elif exc is not None:
            # jobs record their own failures; reaching here is a bug worth a traceback
            log.error("job crashed", extra={"key": key}, exc_info=exc)

    def is_running(self, key: str) -> bool:
        task = self._tasks.get(key)
        return task is not None and not task.done()

    async def cancel(self, key: str) -> None:
        """Cancel the job under ``key`` (if any) and wait until it has unwound."""
        task = self._tasks.get(key)
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait([task])

    async def replace(self, key: str, job: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Cancel whatever runs under ``key``, then run ``job`` there (no gap for a third)."""
        while self.is_running(key):
            await self.cancel(key)
        return self.submit(key, job)  # no await since the check: nothing slipped in

    async def wait(self, key: str) -> None:
        """Wait for the job under ``key`` to finish (tests and burst callers)."""
        task = self._tasks.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def drain(self) -> None:
        """Wait until no job is running."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))

    async def shutdown(self) -> None:
        """Cancel every job and wait for all of them."""
        self._closing = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()
