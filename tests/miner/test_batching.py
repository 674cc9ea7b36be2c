"""The dynamic batcher and the result cache, with a scripted backend."""

from __future__ import annotations

import asyncio

import pytest

from tensornode.errors import BackendError, ServiceUnavailable
from tensornode.miner.backends.base import GenerationRequest, GenerationResult
from tensornode.miner.batching import DynamicBatcher, batch_runner
from tensornode.miner.cache import ResultCache

from .conftest import ScriptedBackend


def _req(prompt: str, **kw: object) -> GenerationRequest:
    return GenerationRequest(prompt, 8, **kw)  # type: ignore[arg-type]


async def _started(backend: ScriptedBackend, **kw: object) -> DynamicBatcher:
    batcher = DynamicBatcher(batch_runner(backend), **kw)  # type: ignore[arg-type]
    batcher.start()
    return batcher


async def test_requests_arriving_during_a_batch_run_together_each_gets_its_own() -> None:
    backend = ScriptedBackend()
    backend.generate_gate.clear()
    batcher = await _started(backend, max_batch_size=8)
    first = asyncio.create_task(batcher.submit(_req("p0")))
    await asyncio.to_thread(backend.entered.wait, 10)  # p0 is generating alone
    rest = [asyncio.create_task(batcher.submit(_req(f"p{i}"))) for i in range(1, 6)]
    await asyncio.sleep(0)
    assert batcher.depth == 6
    backend.generate_gate.set()
    results = await asyncio.gather(first, *rest)
    assert [r.text for r in results] == [f"answer to p{i}" for i in range(6)]
    assert backend.batches == [["p0"], ["p1", "p2", "p3", "p4", "p5"]]
    assert batcher.depth == 0
    await batcher.stop()


async def test_lone_request_runs_alone_and_batches_are_capped() -> None:
    backend = ScriptedBackend()
    batcher = await _started(backend, max_batch_size=2)
    assert (await batcher.submit(_req("solo"))).text == "answer to solo"
    backend.generate_gate.clear()
    backend.entered.clear()
    tasks = [asyncio.create_task(batcher.submit(_req(f"q{i}"))) for i in range(5)]
    await asyncio.to_thread(backend.entered.wait, 10)
    backend.generate_gate.set()
    await asyncio.gather(*tasks)
    assert backend.batches[0] == ["solo"]
    assert all(len(b) <= 2 for b in backend.batches)
    assert sorted(p for b in backend.batches[1:] for p in b) == [f"q{i}" for i in range(5)]
    await batcher.stop()


async def test_full_queue_is_refused_with_retry_after() -> None:
    backend = ScriptedBackend()
    backend.generate_gate.clear()
    batcher = await _started(backend, max_batch_size=1, max_queue=2)
    running = asyncio.create_task(batcher.submit(_req("running")))
    await asyncio.to_thread(backend.entered.wait, 10)
    waiting = [asyncio.create_task(batcher.submit(_req(f"w{i}"))) for i in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(ServiceUnavailable) as caught:
        await batcher.submit(_req("one too many"))
    assert caught.value.message == "the queue is full (2 requests waiting)"
    assert caught.value.retry_after == 1.0
    backend.generate_gate.set()
    await asyncio.gather(running, *waiting)
    await batcher.stop()


async def test_a_failing_request_fails_alone_and_the_worker_survives() -> None:
    backend = ScriptedBackend()
    backend.generate_gate.clear()
    batcher = await _started(backend, max_batch_size=8)
    first = asyncio.create_task(batcher.submit(_req("first")))
    await asyncio.to_thread(backend.entered.wait, 10)
    good = asyncio.create_task(batcher.submit(_req("good")))
    bad = asyncio.create_task(batcher.submit(_req("boom")))
    await asyncio.sleep(0)
    backend.generate_gate.set()
    assert (await first).text == "answer to first"
    assert (await good).text == "answer to good"
    with pytest.raises(BackendError) as caught:
        await bad
    assert caught.value.message == (
        "generation failed: RuntimeError: CUDA error: device-side assert triggered"
    )
    assert (await batcher.submit(_req("after"))).text == "answer to after"
    await batcher.stop()


async def test_stop_fails_waiting_requests() -> None:
    backend = ScriptedBackend()
    batcher = DynamicBatcher(batch_runner(backend))  # never started: nothing runs
    waiting = asyncio.create_task(batcher.submit(_req("never")))
    await asyncio.sleep(0)
    await batcher.stop()
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        await waiting


def test_cache_keeps_deterministic_requests_only_and_evicts_least_recent() -> None:
    cache = ResultCache(2)
    answer = GenerationResult("x", 1, 1)
    sampled = _req("a", temperature=0.7)
    cache.put("llm", sampled, answer)
    assert cache.get("llm", sampled) is None
    assert len(cache) == 0
    greedy, seeded, other = _req("a", temperature=0.0), _req("a", seed=1), _req("b", seed=1)
    cache.put("llm", greedy, answer)
    cache.put("llm", seeded, answer)
    assert cache.get("llm", greedy) is answer  # greedy is now the most recent
    assert cache.get("code", greedy) is None  # another model type is another answer
    cache.put("llm", other, answer)
    assert cache.get("llm", seeded) is None  # evicted
    assert cache.get("llm", greedy) is answer
    assert (cache.hits, cache.misses) == (2, 2)


async def test_stop_mid_batch_answers_the_callers() -> None:
    backend = ScriptedBackend()
    backend.generate_gate.clear()
    batcher = await _started(backend)
    running = asyncio.create_task(batcher.submit(_req("stuck")))
    await asyncio.to_thread(backend.entered.wait, 10)
    await batcher.stop()
    with pytest.raises(ServiceUnavailable, match="shutting down"):
        await running
    backend.generate_gate.set()  # let the worker thread finish
