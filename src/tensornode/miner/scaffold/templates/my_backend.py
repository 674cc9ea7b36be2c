"""__MINER_NAME__: your model behind the TensorNode miner API.

``tensornode miner serve`` does the HTTP side (``POST /api/chat``, ``GET /health``,
``GET /info``, errors, batching, caching); a backend only turns prompts into text. It
implements :class:`tensornode.miner.backends.base.Backend`: ``load`` once, then
``generate_batch`` answers a list of requests in order. Run this file to serve it:
``python my_backend.py --model llm=my-backend`` is ``tensornode miner serve`` with
:func:`make_backend` registered under the name ``my-backend``.

The toy model below answers deterministically so the project runs as generated
(``tensornode miner check`` passes against it). Replace ``_load_model`` and
``_generate_one`` with your model; for a Hugging Face causal LM, for instance::

    from transformers import AutoModelForCausalLM, AutoTokenizer

    def _load_model(self) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.model = AutoModelForCausalLM.from_pretrained(self.model_path)

    def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        inputs = self.tokenizer(request.prompt, return_tensors="pt")
        out = self.model.generate(
            **inputs,
            max_new_tokens=request.max_tokens,
            do_sample=request.temperature > 0,
            temperature=request.temperature or None,
            pad_token_id=self.tokenizer.eos_token_id,
        )
        new = out[0][inputs["input_ids"].shape[1] :]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return GenerationResult(text, inputs["input_ids"].shape[1], len(new), "length")
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence

from tensornode.miner.backends import BackendContext
from tensornode.miner.backends.base import (
    Backend,
    BackendInfo,
    GenerationRequest,
    GenerationResult,
)

MODEL_NAME = "__MINER_NAME__"
CONTEXT_LENGTH = 2048
_VOCABULARY = ("the", "miner", "answers", "every", "prompt", "with", "care", "and", "speed")


class MyBackend:
    """A model behind the miner API (see the module docstring)."""

    name = "my-backend"
    max_batch_size = 8  # requests handed to generate_batch at once (1: one at a time)
    max_concurrency = 1  # batches running at once (more only for a remote model server)

    def __init__(self, model_path: str) -> None:
        self.model_path = model_path
        self._loaded = False

    def load(self) -> None:
        """Load the weights; runs once in a worker thread while the server already listens."""
        self._load_model()
        self._loaded = True

    def _load_model(self) -> None:
        """Replace: read your weights from ``self.model_path``."""

    def info(self) -> BackendInfo:
        """What ``GET /info`` reports."""
        return BackendInfo(
            model_name=MODEL_NAME,
            context_length=CONTEXT_LENGTH,
            device="cpu",
            capabilities=("text-generation", "qa"),
        )

    def count_tokens(self, prompt: str) -> int | None:
        """The prompt's length in your tokenizer's tokens (None if you cannot tell)."""
        return len(prompt.split())

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, in order; a batching model would run them together."""
        if not self._loaded:
            raise RuntimeError("generate_batch before load")
        return [self._generate_one(r) for r in requests]

    def _generate_one(self, request: GenerationRequest) -> GenerationResult:
        """Replace: the toy picks words from a hash of the prompt (and seed), deterministically."""
        digest = hashlib.sha256(f"{request.seed}:{request.prompt}".encode()).digest()
        words = [_VOCABULARY[b % len(_VOCABULARY)] for b in digest[: request.max_tokens]]
        text, finish = " ".join(words), "length"
        for stop in request.stop:
            if stop and stop in text:
                text, finish = text[: text.index(stop)], "stop"
        prompt_tokens = self.count_tokens(request.prompt) or 0
        return GenerationResult(text, prompt_tokens, len(text.split()), finish)

    def close(self) -> None:
        """Release what ``load`` acquired (memory, clients)."""
        self._loaded = False


def make_backend(target: str, ctx: BackendContext) -> Backend:
    """The factory behind ``--model llm=my-backend[:MODEL_PATH]``.

    ``target`` is what follows ``my-backend:`` in the model spec; without one the
    ``MODEL_PATH`` environment variable (or ``/models``) is used.
    """
    return MyBackend(target or os.environ.get("MODEL_PATH", "/models"))


def main() -> None:
    """``tensornode miner serve`` with this backend registered; takes the same options."""
    from tensornode.cli.main import app
    from tensornode.miner.backends import registry

    registry[MyBackend.name] = make_backend
    app(args=["miner", "serve", *sys.argv[1:]], prog_name="python my_backend.py")


if __name__ == "__main__":
    main()
