"""Scorers: exact and list/JSON matches, numeric match, embedding similarity, LLM judge,
and the prior heuristic as the judge's fallback. Each returns an :class:`Outcome`."""

from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.scorers.exact import score_exact, score_json_fields, score_sequence
from tensornode.scoring.scorers.fallback import score_fallback
from tensornode.scoring.scorers.judge import JudgeScorer
from tensornode.scoring.scorers.numeric import score_numeric

__all__ = [
    "EmbeddingScorer",
    "JudgeScorer",
    "score_exact",
    "score_fallback",
    "score_json_fields",
    "score_numeric",
    "score_sequence",
]
