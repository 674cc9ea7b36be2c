"""The backend seam: what a model server needs from a model.

A backend loads once (:meth:`Backend.load`, called in a worker thread after the server
listens) and then answers batches of :class:`GenerationRequest` with one
:class:`GenerationResult` each, in order. ``max_batch_size`` says how many requests it
takes at once (1: the batcher hands it one request at a time); ``max_concurrency`` says
how many batches may run at the same time (1 for an in-process model, more for a
remote server that batches by itself). Backends register in
:data:`tensornode.miner.backends.registry`.

A backend that streams sets ``streams = True`` and takes a :data:`TextSink` as the
second argument of ``generate_batch``: it calls it (from its worker thread) with a row's
index and that row's text so far each time the text grows, and stops generating a row
whose sink call returns False (its caller went away). Any other backend's answer reaches
a streaming client in one piece, when it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

TextSink = Callable[[int, str], bool]
"""``sink(row, text_so_far)``: the text only grows, is whole UTF-8 characters and never
runs past a stop string; False means nobody waits for that row any more."""


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt with its own sampling parameters."""

    prompt: str
    max_tokens: int
    temperature: float = 0.7
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False

    @property
    def deterministic(self) -> bool:
        """True when the same request always gets the same answer (greedy or seeded)."""
        return self.temperature == 0.0 or self.seed is not None


@dataclass(frozen=True)
class GenerationResult:
    """A backend's answer to one request."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "length"  # "length", "stop" (EOS or a stop string), "context"
    # "cancelled" too: the caller went away (streaming backends stop such rows early)


@dataclass(frozen=True)
class BackendInfo:
    """What ``/info`` reports about a loaded model."""

    model_name: str
    context_length: int
    device: str
    capabilities: tuple[str, ...] = ("text-generation", "qa")
    quantization: str | None = None
    weights_sha256: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def streams(backend: object) -> bool:
    """The backend reports text as it generates (see the module docstring)."""
    return getattr(backend, "streams", False) is True


@runtime_checkable
class Backend(Protocol):
    """A model behind the miner API."""

    name: str
    """The backend kind, as in the registry (``tiny``, ``transformers``, ...)."""
    max_batch_size: int
    max_concurrency: int

    def load(self) -> None:
        """Load or build the model; blocking, run in a worker thread."""
        ...

    def info(self) -> BackendInfo:
        """Describe the loaded model; only valid after :meth:`load`."""
        ...

    def count_tokens(self, prompt: str) -> int | None:
        """Prompt length in tokens as the model will see it, or None when unknown."""
        ...

    def generate_batch(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Answer each request, in order; blocking, run in a worker thread."""
        ...

    def close(self) -> None:
        """Release what :meth:`load` acquired (clients, memory)."""
        ...
