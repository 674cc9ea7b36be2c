"""The ``echo`` backend: answers with the prompt's words, no model, no torch.

For wiring tests and for runs where only the miner API matters (a coordinator's
local miners on a machine without torch). Deterministic: the answer is the first
``max_tokens`` words of the prompt, cut at the first stop string. It streams: each
word is reported to the sink as it is "generated", ``word_delay_s`` apart (0 by
default; the streaming benchmark's miner behaves like a model with it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from tensornode.miner.backends.base import (
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    TextSink,
)

ECHO_CONTEXT = 4096


class EchoBackend:
    """Repeats the prompt back, one word a token."""

    name = "echo"
    max_batch_size = 64
    max_concurrency = 1
    streams = True

    def __init__(self, model_name: str = "echo", *, word_delay_s: float = 0.0) -> None:
        self.model_name = model_name or "echo"
        self.word_delay_s = word_delay_s

    def load(self) -> None:
        """Nothing to load."""

    def info(self) -> BackendInfo:
        """A fixed description."""
        return BackendInfo(model_name=self.model_name, context_length=ECHO_CONTEXT, device="cpu")

    def count_tokens(self, prompt: str) -> int | None:
        """Words count as tokens."""
        return len(prompt.split())

    def _one(self, request: GenerationRequest) -> GenerationResult:
        words = request.prompt.split()
        text = " ".join(words[: request.max_tokens])
        reason = "length" if len(words) >= request.max_tokens else "stop"
        for stop in request.stop:
            if stop and stop in text:
                text, reason = text[: text.index(stop)], "stop"
        completion = len(text.split())
        return GenerationResult(text, len(words), completion, reason)

    def generate_batch(
        self, requests: Sequence[GenerationRequest], sink: TextSink | None = None
    ) -> list[GenerationResult]:
        """Echo each request, one word a step for the whole batch, reported to ``sink``."""
        results = [self._one(r) for r in requests]
        if sink is None and not self.word_delay_s:
            return results
        words = [r.text.split(" ") if r.text else [] for r in results]
        live = set(range(len(results)))
        for step in range(1, max((len(w) for w in words), default=0) + 1):
            if self.word_delay_s:
                time.sleep(self.word_delay_s)
            for i in sorted(live):
                if step > len(words[i]):
                    live.discard(i)
                elif sink is not None and not sink(i, " ".join(words[i][:step])):
                    live.discard(i)
                    results[i] = GenerationResult("", results[i].prompt_tokens, 0, "cancelled")
            if not live:
                break
        return results

    def close(self) -> None:
        """Nothing to release."""
