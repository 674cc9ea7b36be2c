"""Building a round's inputs from ``Settings.validator`` (settings are passed in)."""

from __future__ import annotations

import httpx

from tensornode.config import ValidatorSettings
from tensornode.scoring.grading import GradingOptions
from tensornode.scoring.round import RoundOptions
from tensornode.scoring.schemas import ComponentWeights
from tensornode.scoring.scorers.embedding import EmbeddingScorer
from tensornode.scoring.scorers.judge import JudgeScorer
from tensornode.scoring.subnets import Subnet, get_subnet


def subnet_from_settings(name: str, settings: ValidatorSettings) -> Subnet:
    """The registered subnet with the settings' weights and threshold applied."""
    subnet = get_subnet(name)
    if name in settings.weights:
        subnet = subnet.with_weights(ComponentWeights.from_mapping(settings.weights[name]))
    return subnet


def round_options(settings: ValidatorSettings, subnet: Subnet) -> RoundOptions:
    """Grading and request options for ``subnet`` under ``settings``."""
    threshold = (
        settings.pass_threshold if settings.pass_threshold is not None else subnet.pass_threshold
    )
    return RoundOptions(
        grading=GradingOptions(
            pass_threshold=threshold,
            copy_min_words=settings.copy_min_words,
            copy_min_group=settings.copy_min_group,
            evidence_chars=settings.evidence_chars,
        ),
        challenges=settings.challenges_per_round,
        send_seed=settings.send_seed,
        overlap_embedding=settings.overlap_embedding,
    )


def make_embedder(settings: ValidatorSettings) -> EmbeddingScorer:
    """The process's embedding scorer on the configured device (the model loads lazily)."""
    return EmbeddingScorer(device=settings.embedding_device)


def make_judge(settings: ValidatorSettings, client: httpx.AsyncClient) -> JudgeScorer | None:
    """The configured LLM judge, or ``None`` when ``judge_url`` is unset (the default)."""
    if not settings.judge_url:
        return None
    key = settings.judge_api_key.get_secret_value() if settings.judge_api_key else None
    return JudgeScorer(
        settings.judge_url,
        settings.judge_model,
        client=client,
        api_key=key,
        timeout=settings.judge_timeout_s,
    )
