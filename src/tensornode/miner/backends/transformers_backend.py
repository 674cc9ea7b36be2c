"""The ``transformers`` backend: any local model directory or hub id.

Loaded with ``AutoModelForCausalLM``; on a GPU in half precision (``device_map="auto"``
when ``accelerate`` is installed, else the first GPU), on CPU in float32. The tokenizer's
chat template is applied when it has one. Generation is the batched loop of
:mod:`tensornode.miner.backends.hf_loop`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from tensornode.errors import BackendError, ConfigurationError
from tensornode.miner.backends.base import (
    BackendInfo,
    GenerationRequest,
    GenerationResult,
    TextSink,
)

log = logging.getLogger(__name__)

DEFAULT_CONTEXT = 2048
_threads_lock = threading.Lock()
# from_pretrained flips process-global switches (weight-init skipping); two loads in
# parallel threads can leave one model with freshly initialised weights. One at a time.
HF_LOAD_LOCK = threading.Lock()
_threads_set = False


def configure_torch_threads() -> None:
    """Leave one core to the event loop: ``cpus - 1`` intra-op threads, one inter-op.

    torch's default (one thread per core) spins on every core; when anything else needs
    a core (the event loop, tokenization, a neighbour) a step can get 50x slower. An
    explicit ``OMP_NUM_THREADS`` wins.
    """
    global _threads_set
    import torch

    with _threads_lock:
        if _threads_set:
            return
        _threads_set = True
        if "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            # Only settable before the first parallel op; then torch keeps its own.
            log.debug("torch inter-op threads already fixed")


def import_transformers() -> Any:
    """transformers, imported lazily, progress bars off, typed as Any.

    transformers' own annotations are partial and trip mypy strict on ordinary calls.
    """
    hf = importlib.import_module("transformers")
    hf.utils.logging.disable_progress_bar()
    return hf


def _context_length(config: Any, tokenizer: Any) -> int:
    for attr in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    return DEFAULT_CONTEXT


class TransformersBackend:
    """A causal LM loaded in-process with transformers."""

    name = "transformers"
    max_concurrency = 1
    streams = True

    def __init__(self, model_id: str, *, max_batch_size: int = 16) -> None:
        if not model_id:
            raise ConfigurationError("the transformers backend needs a model path or hub id")
        self.model_id = model_id
        self.max_batch_size = max_batch_size
        self.model: Any = None
        self.tokenizer: Any = None
        self._info: BackendInfo | None = None
        self._eos_ids: set[int] = set()
        self._pad_id = 0
        self._use_chat_template = True
        self._tokenizer_lock = threading.Lock()

    def load(self) -> None:
        """Load tokenizer and weights (downloads from the hub if ``model_id`` is not local)."""
        self._load_from(self.model_id, display_name=self.model_id)

    def _load_from(
        self, path: str, *, display_name: str, weights_sha256: str | None = None
    ) -> None:
        configure_torch_threads()
        import torch

        hf = import_transformers()
        AutoModelForCausalLM, AutoTokenizer = hf.AutoModelForCausalLM, hf.AutoTokenizer

        kwargs: dict[str, Any] = {}
        gpu = torch.cuda.is_available()
        if gpu:
            kwargs["dtype"] = torch.float16
            if importlib.util.find_spec("accelerate") is not None:
                kwargs["device_map"] = "auto"
        try:
            with HF_LOAD_LOCK:
                tokenizer = AutoTokenizer.from_pretrained(path)
                model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot load model {display_name!r}: {exc}") from exc
        if gpu and "device_map" not in kwargs:
            model = model.to("cuda")
        model.eval()
        tokenizer.padding_side = "left"
        eos = tokenizer.eos_token_id
        eos_ids = {eos} if isinstance(eos, int) else set()
        config_eos = getattr(model.generation_config, "eos_token_id", None)
        if isinstance(config_eos, int):
            eos_ids.add(config_eos)
        elif isinstance(config_eos, list):
            eos_ids.update(config_eos)
        self._eos_ids = eos_ids
        pad = tokenizer.pad_token_id
        self._pad_id = pad if isinstance(pad, int) else (min(eos_ids) if eos_ids else 0)
        self.model, self.tokenizer = model, tokenizer
        device = next(model.parameters()).device
        self._info = BackendInfo(
            model_name=display_name,
            context_length=_context_length(model.config, tokenizer),
            device=str(device),
            quantization="fp16" if gpu else None,
            weights_sha256=weights_sha256,
        )

    def info(self) -> BackendInfo:
        """The loaded model's description."""
        if self._info is None:
            raise BackendError("model is not loaded")
        return self._info

    def _encode(self, prompt: str) -> list[int]:
        with self._tokenizer_lock:  # the event loop counts while the worker generates
            return self._encode_unlocked(prompt)

    def _encode_unlocked(self, prompt: str) -> list[int]:
        tokenizer = self.tokenizer
        if self._use_chat_template and getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False
            )
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])
        return list(tokenizer(prompt)["input_ids"])

    def count_tokens(self, prompt: str) -> int | None:
        """Prompt tokens as the model sees them (chat template included)."""
        return len(self._encode(prompt))

    def generate_batch(
        self, requests: Sequence[GenerationRequest], sink: TextSink | None = None
    ) -> list[GenerationResult]:
        """Generate for all requests together with the batched loop, streaming to ``sink``."""
        from tensornode.miner.backends import hf_loop

        info = self.info()
        prompts = [self._encode(r.prompt) for r in requests]
        for p in prompts:
            if not p:
                p.append(self._pad_id)
        return hf_loop.generate_batch(
            self.model,
            self.tokenizer,
            prompts,
            requests,
            context_length=info.context_length,
            eos_ids=self._eos_ids,
            pad_id=self._pad_id,
            sink=sink,
        )

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.model = None
