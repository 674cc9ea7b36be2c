"""The miner's work, callable without HTTP: load models, answer chat, report health/info.

:class:`MinerService` holds one slot per model type. Models load in the background after
:meth:`MinerService.start` (the server listens meanwhile and answers 503 while loading);
each loaded model gets a :class:`~tensornode.miner.batching.DynamicBatcher`. Deterministic
requests go through the :class:`~tensornode.miner.cache.ResultCache` first.
:meth:`MinerService.open_stream` answers the same requests piece by piece as they are
generated (:class:`~tensornode.miner.stream.ChatStream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from tensornode import __version__
from tensornode.config import Settings
from tensornode.contracts.miner import (
    ChatRequest,
    ChatResponse,
    HealthResponse,
    InfoResponse,
    Usage,
)
from tensornode.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from tensornode.miner.backends import (
    Backend,
    BackendContext,
    BackendInfo,
    GenerationRequest,
    build_backend,
    parse_model_spec,
)
from tensornode.miner.backends.base import GenerationResult
from tensornode.miner.batching import DynamicBatcher, batch_runner
from tensornode.miner.cache import ResultCache
from tensornode.miner.stream import ChatStream

log = logging.getLogger(__name__)

LOADING_RETRY_S = 5.0


class ModelState(StrEnum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class ModelSlot:
    """One served model type and where its backend stands."""

    model_type: str
    backend: Backend
    state: ModelState = ModelState.LOADING
    error: str | None = None
    info: BackendInfo | None = None
    batcher: DynamicBatcher | None = None


def format_uptime(seconds: float) -> str:
    """The guide's uptime format: ``2h 15m 30s`` (hours keep counting past a day)."""
    total = int(seconds)
    return f"{total // 3600}h {total % 3600 // 60}m {total % 60}s"


class MinerService:
    """Serves one or more models behind the miner API."""

    def __init__(self, settings: Settings, backends: Mapping[str, Backend]) -> None:
        if not backends:
            raise ConfigurationError("a miner needs at least one model")
        self.settings = settings
        self.slots = {t: ModelSlot(t, b) for t, b in backends.items()}
        self.default_type = "llm" if "llm" in self.slots else next(iter(self.slots))
        self.cache = ResultCache(settings.miner.cache_size) if settings.miner.cache else None
        self._started_at = time.monotonic()
        self._load_tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_specs(cls, settings: Settings, specs: Sequence[str]) -> MinerService:
        """Build from ``--model`` specs (``llm=tiny``, ``code=transformers:PATH``, ...)."""
        ctx = BackendContext(settings.data_dir, settings.miner.max_batch_size)
        backends: dict[str, Backend] = {}
        for raw in specs:
            spec = parse_model_spec(raw)
            if spec.model_type in backends:
                raise ConfigurationError(f"model type {spec.model_type!r} given twice")
            backends[spec.model_type] = build_backend(spec, ctx)
        return cls(settings, backends)

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Start loading every model in the background; returns at once."""
        self._started_at = time.monotonic()
        for slot in self.slots.values():
            self._load_tasks.append(asyncio.create_task(self._load(slot)))

    async def wait_loaded(self) -> None:
        """Wait until every model is ready or failed (for tests and the CLI)."""
        await asyncio.gather(*self._load_tasks)

    async def stop(self) -> None:
        """Stop batchers and release backends."""
        for task in self._load_tasks:
            task.cancel()
        for task in self._load_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for slot in self.slots.values():
            if slot.batcher is not None:
                await slot.batcher.stop()
            slot.backend.close()

    async def _load(self, slot: ModelSlot) -> None:
        started = time.monotonic()
        try:
            await asyncio.to_thread(slot.backend.load)
            slot.info = slot.backend.info()
        except Exception as exc:
            slot.state = ModelState.FAILED
            slot.error = " ".join(str(exc).split()) or type(exc).__name__
            log.error("model failed to load", exc_info=exc, extra={"model_type": slot.model_type})
            return
        miner = self.settings.miner
        batch = min(miner.max_batch_size, slot.backend.max_batch_size) if miner.batching else 1
        slot.batcher = DynamicBatcher(
            batch_runner(slot.backend),
            name=slot.model_type,
            max_batch_size=batch,
            window_s=miner.batch_window_ms / 1000.0,
            max_queue=miner.max_queue,
            concurrency=slot.backend.max_concurrency,
        )
        slot.batcher.start()
        slot.state = ModelState.READY
        log.info(
            "model loaded",
            extra={
                "model_type": slot.model_type,
                "model": slot.info.model_name,
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    # -- queries -----------------------------------------------------------------------

    def model_slot(self, model_type: str | None) -> ModelSlot:
        """The slot serving ``model_type`` (the default when None); 404 if none does."""
        slot = self.slots.get(model_type or self.default_type)
        if slot is None:
            raise NotFound("Model not available")
        return slot

    @staticmethod
    def _ready(slot: ModelSlot) -> tuple[BackendInfo, DynamicBatcher]:
        if slot.state is ModelState.FAILED:
            raise ServiceUnavailable(f"model {slot.model_type} failed to load: {slot.error}")
        if slot.info is None or slot.batcher is None:
            raise ServiceUnavailable("model is loading", retry_after=LOADING_RETRY_S)
        return slot.info, slot.batcher

    @property
    def uptime_seconds(self) -> float:
        return time.monotonic() - self._started_at

    @property
    def queue_depth(self) -> int:
        return sum(s.batcher.depth for s in self.slots.values() if s.batcher is not None)

    def health(self) -> HealthResponse:
        """Healthy when every model is loaded; 503 (ServiceUnavailable) otherwise."""
        for slot in self.slots.values():
            self._ready(slot)
        return HealthResponse(
            status="healthy",
            model_loaded=True,
            uptime=format_uptime(self.uptime_seconds),
            uptime_seconds=round(self.uptime_seconds, 3),
            queue_depth=self.queue_depth,
            version=__version__,
            nonce=self.settings.miner.nonce,
        )

    def info(self, model_type: str | None = None) -> InfoResponse:
        """Describe a model (the default one unless named)."""
        slot = self.model_slot(model_type)
        info, batcher = self._ready(slot)
        return InfoResponse(
            model_name=info.model_name,
            model_type=slot.model_type,
            version=__version__,
            capabilities=list(info.capabilities),
            max_context_length=info.context_length,
            max_concurrency=batcher.max_batch_size * batcher.concurrency,
            weights_sha256=info.weights_sha256,
            quantization=info.quantization,
            device=info.device,
            models=list(self.slots),
        )

    # -- chat --------------------------------------------------------------------------

    def _generation_request(self, request: ChatRequest, slot: ModelSlot) -> GenerationRequest:
        limit = self.settings.miner.max_tokens
        max_tokens = request.max_tokens
        if "max_tokens" not in request.model_fields_set:
            max_tokens = min(max_tokens, limit)  # the default must not trip a lower limit
        elif max_tokens > limit:
            raise InvalidInput(f"max_tokens must be at most {limit}", status=422)
        info = slot.info
        count = slot.backend.count_tokens(request.prompt)
        if info is not None and count is not None and count >= info.context_length:
            raise InvalidInput(
                f"prompt is {count} tokens; the model's context is {info.context_length} tokens",
                status=422,
            )
        return GenerationRequest(
            prompt=request.prompt,
            max_tokens=max_tokens,
            temperature=request.temperature,
            seed=request.seed,
            stop=tuple(request.stop or ()),
            ignore_eos=request.ignore_eos,
        )

    async def chat(self, request: ChatRequest, model_type: str | None = None) -> ChatResponse:
        """Answer one chat request with the named model (the default one unless named)."""
        started = time.perf_counter()
        slot = self.model_slot(model_type)
        info, batcher = self._ready(slot)
        generation = self._generation_request(request, slot)
        result = self.cache.get(slot.model_type, generation) if self.cache else None
        if result is None:
            result = await batcher.submit(generation)
            if self.cache is not None:
                self.cache.put(slot.model_type, generation, result)
        return self.response(info.model_name, result, started)

    def open_stream(
        self, request: ChatRequest, model_type: str | None = None
    ) -> tuple[ChatStream, str]:
        """Queue a chat request to be read as it is generated; the stream and the model's
        name. Every refusal (unknown model, loading, bad request, full queue) is raised
        here, before any of the answer."""
        slot = self.model_slot(model_type)
        info, batcher = self._ready(slot)
        generation = self._generation_request(request, slot)
        cached = self.cache.get(slot.model_type, generation) if self.cache else None
        if cached is not None:
            return ChatStream.finished(cached), info.model_name
        stream = ChatStream()
        future = batcher.enqueue(generation, stream.on_text)
        stream.follow(future)
        if self.cache is not None:
            future.add_done_callback(self._cache_when_done(slot.model_type, generation))
        return stream, info.model_name

    def _cache_when_done(
        self, model_type: str, generation: GenerationRequest
    ) -> Callable[[asyncio.Future[GenerationResult]], None]:
        """A done-callback caching a streamed request's result (not a failed or abandoned one)."""

        def put(future: asyncio.Future[GenerationResult]) -> None:
            if self.cache is not None and not future.cancelled() and future.exception() is None:
                self.cache.put(model_type, generation, future.result())

        return put

    @staticmethod
    def response(model_name: str, result: GenerationResult, started: float) -> ChatResponse:
        """The contract's answer for a finished generation that began at ``started``."""
        return ChatResponse(
            response=result.text,
            model=model_name,
            timestamp=datetime.now(UTC).replace(microsecond=0),
            processing_time=round(time.perf_counter() - started, 4),
            usage=Usage(
                prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens,
                total_tokens=result.prompt_tokens + result.completion_tokens,
            ),
        )
