"""The ``tiny`` backend: a small GPT-2 built offline, for real inference without downloads.

On first use it trains a byte-level BPE tokenizer on the corpora shipped in
``tensornode/miner/data/``, initialises a 2-layer, 128-dim GPT-2 from a fixed seed and
trains it briefly on the plain English one (``TRAIN_STEPS`` steps of AdamW on one
thread, seconds of CPU, deterministic by seed) so its answers read as words, then saves both with
``save_pretrained`` under ``<data_dir>/models/tiny-v2/``. The
directory is built in a temporary sibling and renamed into place, so two processes
building at once both end with the same complete directory. The saved directory is a
normal Hugging Face model: the ``transformers`` backend loads it too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from tensornode.miner.backends.transformers_backend import (
    HF_LOAD_LOCK,
    TransformersBackend,
    import_transformers,
)

log = logging.getLogger(__name__)

TINY_NAME = "tiny-v2"
TINY_SEED = 1234
TINY_VOCAB = 2048
TINY_CONTEXT = 512
EOS = "<|endoftext|>"
TRAIN_STEPS = 200
TRAIN_BATCH = 8
TRAIN_WINDOW = 64
TRAIN_LR = 3e-3
_MARKER = "tensornode-tiny.json"


def tiny_model_dir(data_dir: Path) -> Path:
    """Where the tiny model lives under a data directory."""
    return data_dir / "models" / TINY_NAME


def _shipped(name: str) -> str:
    return (resources.files("tensornode.miner") / "data" / name).read_text("utf-8")


def _corpus() -> str:
    """What the tokenizer learns from: prose, code, other languages."""
    return _shipped("tiny_corpus.txt")


def _training_text() -> str:
    """What the model learns to continue: plain English sentences."""
    return _shipped("tiny_training.txt")


def _build_into(target: Path) -> None:
    """Train the tokenizer and initialise the model into ``target`` (an empty directory)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = import_transformers()

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=TINY_VOCAB,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus().splitlines() + _training_text().splitlines(), trainer=trainer)
    tokenizer = hf.PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS
    )
    tokenizer.model_max_length = TINY_CONTEXT
    tokenizer.save_pretrained(target)
    eos_id = tok.token_to_id(EOS)
    config = hf.GPT2Config(
        vocab_size=tok.get_vocab_size(),
        n_positions=TINY_CONTEXT,
        n_embd=128,
        n_layer=2,
        n_head=4,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    with HF_LOAD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        model = hf.GPT2LMHeadModel(config)
        ids = tok.encode(" ".join(_training_text().split())).ids
        _train(model, torch.tensor(ids, dtype=torch.long))
    model.save_pretrained(target)
    digest = hashlib.sha256((target / "model.safetensors").read_bytes()).hexdigest()
    (target / _MARKER).write_text(json.dumps({"name": TINY_NAME, "weights_sha256": digest}))


def _train(model: Any, ids: Any) -> None:
    """A few hundred steps of next-token training on windows of the corpus."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is as fast, and never spins idle
    try:
        _train_steps(model, ids)
    finally:
        torch.set_num_threads(threads)
    model.eval()


def _train_steps(model: Any, ids: Any) -> None:
    import torch

    generator = torch.Generator().manual_seed(TINY_SEED)
    optimizer = torch.optim.AdamW(model.parameters(), lr=TRAIN_LR, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 - s / TRAIN_STEPS)
    model.train()
    for _ in range(TRAIN_STEPS):
        starts = torch.randint(0, len(ids) - TRAIN_WINDOW - 1, (TRAIN_BATCH,), generator=generator)
        batch = torch.stack([ids[s : s + TRAIN_WINDOW] for s in starts.tolist()])
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    log.info("tiny model trained", extra={"steps": TRAIN_STEPS, "loss": round(loss.item(), 3)})


def ensure_tiny_model(data_dir: Path) -> Path:
    """Return the tiny model's directory, building it first if absent (safe to race)."""
    final = tiny_model_dir(data_dir)
    if (final / _MARKER).is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{TINY_NAME}-", dir=final.parent))
    try:
        log.info("building the tiny model", extra={"path": str(final)})
        _build_into(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another process renamed its build first; theirs is complete, keep it.
            if not (final / _MARKER).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def tiny_weights_sha256(path: Path) -> str | None:
    """The sha256 of the tiny model's weights, as recorded when it was built."""
    marker = json.loads((path / _MARKER).read_text())
    value = marker.get("weights_sha256")
    return value if isinstance(value, str) else None


class TinyBackend(TransformersBackend):
    """The tiny GPT-2, built on first use into the data directory."""

    name = "tiny"

    def __init__(self, data_dir: Path, *, max_batch_size: int = 16) -> None:
        super().__init__(str(tiny_model_dir(data_dir)), max_batch_size=max_batch_size)
        self.data_dir = data_dir
        self._use_chat_template = False

    def load(self) -> None:
        """Build the model if needed, then load it."""
        path = ensure_tiny_model(self.data_dir)
        self._load_from(str(path), display_name=TINY_NAME, weights_sha256=tiny_weights_sha256(path))
