"""An LRU of answers to deterministic requests (temperature 0 or a fixed seed).

A request whose answer can differ from one call to the next (sampling without a seed) is
never cached. Used from the event loop only, so it needs no lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from tensornode.miner.backends.base import GenerationRequest, GenerationResult


class ResultCache:
    """Least-recently-used map from (model type, request) to its result."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("cache capacity must be at least 1")
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, GenerationResult] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def cacheable(request: GenerationRequest) -> bool:
        """Only deterministic requests have one right answer to remember."""
        return request.deterministic

    def get(self, model_type: str, request: GenerationRequest) -> GenerationResult | None:
        """The remembered result, refreshed as most recent; None (a miss) otherwise."""
        if not self.cacheable(request):
            return None
        key = (model_type, request)
        result = self._entries.get(key)
        if result is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return result

    def put(self, model_type: str, request: GenerationRequest, result: GenerationResult) -> None:
        """Remember a deterministic request's result, evicting the least recent."""
        if not self.cacheable(request):
            return
        key = (model_type, request)
        self._entries[key] = result
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
