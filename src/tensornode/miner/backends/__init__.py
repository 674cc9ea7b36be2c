"""Model backends of the reference miner, registered by name.

A ``--model`` spec is ``TYPE=BACKEND[:TARGET]``: ``llm=tiny``,
``code=transformers:/path/or/hub-id``, ``llm=openai:http://host:8000/v1#model-name``,
``llm=openai-completions:http://host:8080/v1``, ``llm=echo``. ``TYPE`` is the model type
served at ``/api/chat/TYPE``; a bare ``BACKEND[:TARGET]`` means ``llm=``. Factories
import torch lazily, so the core install can parse specs and run ``echo``/``openai``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tensornode.errors import ConfigurationError
from tensornode.miner.backends.base import (
    Backend,
    BackendInfo,
    GenerationRequest,
    GenerationResult,
)

__all__ = [
    "Backend",
    "BackendContext",
    "BackendInfo",
    "GenerationRequest",
    "GenerationResult",
    "ModelSpec",
    "build_backend",
    "parse_model_spec",
    "registry",
]

_TYPE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class ModelSpec:
    """One ``--model`` option, parsed."""

    model_type: str
    backend: str
    target: str = ""


@dataclass(frozen=True)
class BackendContext:
    """What a factory may need besides its target."""

    data_dir: Path
    max_batch_size: int = 16


def _tiny(target: str, ctx: BackendContext) -> Backend:
    from tensornode.miner.backends.tiny import TinyBackend

    if target:
        raise ConfigurationError("the tiny backend takes no target: use TYPE=tiny")
    return TinyBackend(ctx.data_dir, max_batch_size=ctx.max_batch_size)


def _transformers(target: str, ctx: BackendContext) -> Backend:
    from tensornode.miner.backends.transformers_backend import TransformersBackend

    return TransformersBackend(target, max_batch_size=ctx.max_batch_size)


def _openai(target: str, ctx: BackendContext) -> Backend:
    from tensornode.miner.backends.openai_upstream import OpenAIUpstreamBackend

    return OpenAIUpstreamBackend(target, chat=True)


def _openai_completions(target: str, ctx: BackendContext) -> Backend:
    from tensornode.miner.backends.openai_upstream import OpenAIUpstreamBackend

    return OpenAIUpstreamBackend(target, chat=False)


def _echo(target: str, ctx: BackendContext) -> Backend:
    from tensornode.miner.backends.echo import EchoBackend

    return EchoBackend(target)


registry: dict[str, Callable[[str, BackendContext], Backend]] = {
    "tiny": _tiny,
    "transformers": _transformers,
    "openai": _openai,
    "openai-completions": _openai_completions,
    "echo": _echo,
}
"""Backend name → factory(target, context)."""
UPSTREAM_BACKENDS = frozenset({"openai", "openai-completions"})
"""Backends whose target is a URL the miner calls (checked like any user-given URL)."""


def parse_model_spec(spec: str) -> ModelSpec:
    """Parse ``TYPE=BACKEND[:TARGET]`` (see the module docstring)."""
    model_type, sep, rest = spec.strip().partition("=")
    if not sep:
        model_type, rest = "llm", spec.strip()
    model_type = model_type.strip()
    if not _TYPE.match(model_type):
        raise ConfigurationError(
            f"bad model type {model_type!r} in {spec!r}: use lowercase letters, digits, - or _"
        )
    backend, _, target = rest.partition(":")
    backend = backend.strip()
    if backend not in registry:
        known = ", ".join(sorted(registry))
        raise ConfigurationError(f"unknown backend {backend!r} in {spec!r}; known: {known}")
    return ModelSpec(model_type, backend, target.strip())


def build_backend(spec: ModelSpec, ctx: BackendContext) -> Backend:
    """Instantiate the backend a spec names (nothing is loaded yet)."""
    return registry[spec.backend](spec.target, ctx)
