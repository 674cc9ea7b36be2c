"""The ``echo`` backend: answers with the prompt's words, no model, no torch.

For wiring tests and for runs where only the miner API matters (a coordinator's
local miners on a machine without torch). Deterministic: the answer is the first
``max_tokens`` words of the prompt, cut at the first stop string.
"""

from __future__ import annotations

from collections.abc import Sequence

from tensornode.miner.backends.base import BackendInfo, GenerationRequest, GenerationResult

ECHO_CONTEXT = 4096


class EchoBackend:
    """Repeats the prompt back, one word a token."""

    name = "echo"
    max_batch_size = 64
    max_concurrency = 1

    def __init__(self, model_name: str = "echo") -> None:
        self.model_name = model_name or "echo"

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

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Echo each request."""
        return [self._one(r) for r in requests]

    def close(self) -> None:
        """Nothing to release."""
