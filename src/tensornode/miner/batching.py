"""The dynamic batcher: gathers concurrent requests for one model into batches.

Requests wait in a queue; a worker takes up to ``max_batch_size`` of them at once and
runs the backend in a worker thread, so the event loop stays responsive. Only one batch
runs at a time per worker (``concurrency`` workers per model; 1 for an in-process model).

The batch window is adaptive so it never delays a lone request: the worker only waits
(at most ``window_s``) when the recent peak of concurrent requests says more clients are
about to send, and stops waiting as soon as that many are queued. With one client (or
after a second of lower load) a request runs the moment it arrives.

Streaming: a request may come with ``on_text``, called on the event loop with the
request's text so far each time a streaming backend reports it grew (a batch step gives
every row its next token). A request whose caller went away (its future cancelled) is
reported to the backend as gone, which stops generating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from tensornode.errors import BackendError, ServiceUnavailable, TensorNodeError
from tensornode.miner.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    TextSink,
    streams,
)

log = logging.getLogger(__name__)

RunBatch = Callable[[Sequence[GenerationRequest], TextSink], list[GenerationResult]]
"""Run a batch (in a worker thread), reporting each row's text so far to the sink."""
OnText = Callable[[str], None]


def batch_runner(backend: Backend) -> RunBatch:
    """The backend's ``generate_batch`` as a :data:`RunBatch` (the sink unused by a
    backend that does not stream)."""
    if streams(backend):
        return cast(RunBatch, backend.generate_batch)
    return lambda requests, _sink: backend.generate_batch(requests)


_RECENT_S = 1.0  # a previous batch older than this says nothing about current load


@dataclass
class _Pending:
    request: GenerationRequest
    future: asyncio.Future[GenerationResult]
    arrived: float
    on_text: OnText | None = None


class DynamicBatcher:
    """Queue + worker(s) turning concurrent ``submit`` calls into backend batches."""

    def __init__(
        self,
        run: RunBatch,
        *,
        name: str = "llm",
        max_batch_size: int = 16,
        window_s: float = 0.005,
        max_queue: int = 256,
        concurrency: int = 1,
    ) -> None:
        self._run = run
        self.name = name
        self.max_batch_size = max(1, max_batch_size)
        self.window_s = max(0.0, window_s)
        self.max_queue = max_queue
        self.concurrency = max(1, concurrency)
        self.batches = 0
        self._pending: deque[_Pending] = deque()
        self._in_flight = 0
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._last_end = 0.0
        self._peak = 0
        self._peak_at = float("-inf")

    @property
    def depth(self) -> int:
        """Requests waiting plus requests being generated."""
        return len(self._pending) + self._in_flight

    def start(self) -> None:
        """Start the worker task(s); call from the running event loop."""
        if self._workers:
            return
        self._executor = ThreadPoolExecutor(
            max_workers=self.concurrency, thread_name_prefix=f"miner-{self.name}"
        )
        self._workers = [
            asyncio.create_task(self._work(), name=f"batcher-{self.name}-{i}")
            for i in range(self.concurrency)
        ]

    async def stop(self) -> None:
        """Stop the workers and fail whatever still waits."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []
        while self._pending:
            item = self._pending.popleft()
            if not item.future.done():
                item.future.set_exception(ServiceUnavailable("the miner is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def submit(self, request: GenerationRequest) -> GenerationResult:
        """Queue a request and wait for its result; 503 when the queue is full."""
        return await self.enqueue(request)

    def enqueue(
        self, request: GenerationRequest, on_text: OnText | None = None
    ) -> asyncio.Future[GenerationResult]:
        """Queue a request (503 at once when the queue is full); its result's future.

        Cancelling the future abandons the request (a streaming backend stops it)."""
        if len(self._pending) >= self.max_queue:
            raise ServiceUnavailable(
                f"the queue is full ({self.max_queue} requests waiting)", retry_after=1.0
            )
        loop = asyncio.get_running_loop()
        item = _Pending(request, loop.create_future(), loop.time(), on_text)
        self._pending.append(item)
        self._note_depth(item.arrived)
        self._wakeup.set()
        return item.future

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._gather(loop)
            batch: list[_Pending] = []
            while self._pending and len(batch) < self.max_batch_size:
                item = self._pending.popleft()
                if not item.future.done():  # skip callers that went away
                    batch.append(item)
            if batch:
                await self._run_batch(loop, batch)

    def _note_depth(self, now: float) -> None:
        """Track the recent peak of requests in the system (waiting + generating)."""
        if self.depth >= self._peak or now - self._peak_at > _RECENT_S:
            self._peak, self._peak_at = self.depth, now

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait briefly for more requests, but only when recent load says they are coming.

        Recent peak concurrency says how many clients are around; when fewer are waiting,
        the rest are probably between an answer and their next request, so wait up to the
        window (from when the worker became free) to run them all in one batch instead of
        splitting clients into cohorts that take turns.
        """
        now = loop.time()
        recent = now - self._peak_at < _RECENT_S
        expected = min(self.max_batch_size, self._peak) if recent else 1
        if expected <= 1 or self.window_s <= 0:
            return
        deadline = max(self._pending[0].arrived, self._last_end) + self.window_s
        while 0 < len(self._pending) < expected:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        self._in_flight += len(batch)
        started = loop.time()
        try:
            outcomes = await loop.run_in_executor(self._executor, self._run_isolated, batch, loop)
        except asyncio.CancelledError:
            for item in batch:  # stopped mid-batch: answer the callers, do not strand them
                if not item.future.done():
                    item.future.set_exception(ServiceUnavailable("the miner is shutting down"))
            raise
        finally:
            self._in_flight -= len(batch)
            self._last_end = loop.time()
            self.batches += 1
        log.debug(
            "batch done",
            extra={
                "model_type": self.name,
                "size": len(batch),
                "waited_ms": round((started - batch[0].arrived) * 1000, 1),
                "ran_ms": round((self._last_end - started) * 1000, 1),
            },
        )
        for item, outcome in zip(batch, outcomes, strict=True):
            if item.future.done():
                continue
            if isinstance(outcome, BaseException):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)

    def _call(
        self, batch: Sequence[_Pending], loop: asyncio.AbstractEventLoop
    ) -> list[GenerationResult]:
        results = self._run([p.request for p in batch], _sink(batch, loop))
        if len(results) != len(batch):
            raise BackendError(f"backend returned {len(results)} results for {len(batch)} requests")
        return results

    def _run_isolated(
        self, batch: Sequence[_Pending], loop: asyncio.AbstractEventLoop
    ) -> list[GenerationResult | TensorNodeError]:
        """Run a batch; if it fails, run each request alone so one bad row fails alone."""
        # A backend may raise anything (torch, tokenizers, httpx); every failure must reach
        # its caller as our error, never kill the worker.
        try:
            return list(self._call(batch, loop))
        except Exception as exc:  # noqa: BLE001
            if len(batch) == 1:
                return [_as_error(exc)]
        outcomes: list[GenerationResult | TensorNodeError] = []
        for item in batch:
            try:
                outcomes.extend(self._call([item], loop))
            except Exception as exc:  # noqa: BLE001
                outcomes.append(_as_error(exc))
        return outcomes


def _sink(batch: Sequence[_Pending], loop: asyncio.AbstractEventLoop) -> TextSink:
    """The backend's sink for ``batch`` (called in the worker thread)."""

    def sink(index: int, text: str) -> bool:
        item = batch[index]
        if item.future.done():  # cancelled: the caller went away
            return False
        if item.on_text is not None:
            loop.call_soon_threadsafe(item.on_text, text)
        return True

    return sink


def _as_error(exc: Exception) -> TensorNodeError:
    """Our errors pass through; anything else is logged and becomes a BackendError."""
    if isinstance(exc, TensorNodeError):
        return exc
    log.error("generation failed", exc_info=exc)
    return BackendError(f"generation failed: {type(exc).__name__}: {exc}")
