"""What validation needs in a running coordinator, built once per app.

:class:`ValidationRuntime` holds the probe client, the private question bank, the
gateway's traffic sampler, the scorers (the offline embedding
model, loaded on first use; the LLM judge when configured), the service and the two
loops. ``build_app`` attaches one to ``app.state.validation`` and its lifespan enters
:func:`validation_running`, which starts the loops unless their settings turn them off
(``validator.in_process``, ``rewards.scheduler``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tensornode.config import Settings
from tensornode.coordinator.services.miners import MinerService
from tensornode.db.session import Database
from tensornode.epochs.scheduler import EpochScheduler
from tensornode.net.signing import RequestSigner
from tensornode.scoring.challenges.open_questions import QuestionBank
from tensornode.scoring.factory import make_judge
from tensornode.scoring.grading import Embedder
from tensornode.scoring.network.loop import ValidatorLoop
from tensornode.scoring.network.service import ValidationService
from tensornode.scoring.round import make_probe_client
from tensornode.scoring.traffic import TrafficSampler


class ValidationRuntime:
    """The validation service, its scorers and its loops for one coordinator.

    ``signer`` is the coordinator's request key (probes are signed like user requests;
    seeds derive from it); ``traffic`` the gateway's sampler of answered requests.
    """

    def __init__(
        self,
        settings: Settings,
        db: Database,
        http: httpx.AsyncClient,
        miners: MinerService,
        *,
        signer: RequestSigner | None = None,
        traffic: TrafficSampler | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.miners = miners
        validator = settings.validator
        self.signer = signer or RequestSigner.load_or_create(settings.ensure_data_dir())
        self.traffic = traffic
        self.bank = QuestionBank.load(validator.question_bank) if validator.question_bank else None
        self.probe_client = make_probe_client(self.signer)
        self.judge = make_judge(validator, http)
        self._embedder = embedder
        self.service = ValidationService(self)
        self.validator_loop = ValidatorLoop(self)
        self.epochs = EpochScheduler(self)

    def embedder(self) -> Embedder:
        """The open-answer scorer (the bundled MiniLM unless one was given)."""
        if self._embedder is None:
            from tensornode.scoring.scorers.embedding import EmbeddingScorer

            self._embedder = EmbeddingScorer(device=self.settings.validator.embedding_device)
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Score open answers with ``embedder`` (tests share one loaded model)."""
        self._embedder = embedder

    async def close(self) -> None:
        await self.validator_loop.close()
        await self.epochs.close()
        await self.probe_client.aclose()


@asynccontextmanager
async def validation_running(runtime: ValidationRuntime) -> AsyncIterator[ValidationRuntime]:
    """Start the enabled loops for the duration of the block (after migrations ran)."""
    settings = runtime.settings
    try:
        await runtime.service.ensure_own_account()
        if settings.validator.in_process:
            runtime.validator_loop.start()
        if settings.rewards.scheduler:
            runtime.epochs.start()
        yield runtime
    finally:
        await runtime.close()


DEV_EPOCH_SECONDS = 300
DEV_ROUND_INTERVAL_S = 30.0


def with_dev_network_pace(settings: Settings) -> Settings:
    """``tensornode up``'s pace: 5-minute epochs and a round every 30 s, unless the
    environment set them (``TENSORNODE_REWARDS__EPOCH_SECONDS``, ...)."""
    rewards, validator = settings.rewards, settings.validator
    if "epoch_seconds" not in rewards.model_fields_set:
        rewards = rewards.model_copy(update={"epoch_seconds": DEV_EPOCH_SECONDS})
    if "round_interval_s" not in validator.model_fields_set:
        validator = validator.model_copy(update={"round_interval_s": DEV_ROUND_INTERVAL_S})
    return settings.model_copy(update={"rewards": rewards, "validator": validator})
