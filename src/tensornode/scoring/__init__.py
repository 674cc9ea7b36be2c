"""Scoring, in one place: fresh challenges each round, probes that look like user traffic,
scorers, penalties, and per-miner score components with their evidence (the engine,
here); rounds stored, scored and explained inside the network (:mod:`.network`).

The coordinator's entry points:

* :func:`run_round` -- one round against a subnet's miners -> :class:`RoundResult`;
* :func:`score_epoch` -- components and totals over an epoch's rounds -> ``MinerScore``s;
* :func:`validate_manually` -- one question + expected answer to a list of miners;
* :func:`subnet_from_settings`, :func:`round_options`, :func:`make_embedder`,
  :func:`make_judge`, :func:`make_probe_client` -- build their inputs from
  ``Settings.validator``.
"""

from tensornode.scoring.components import ranking, score_epoch
from tensornode.scoring.factory import (
    make_embedder,
    make_judge,
    round_options,
    subnet_from_settings,
)
from tensornode.scoring.manual import validate_manually
from tensornode.scoring.round import RoundOptions, make_probe_client, plan_round, run_round
from tensornode.scoring.schemas import (
    Challenge,
    ComponentWeights,
    Evidence,
    ManualResult,
    MinerScore,
    MinerTarget,
    ProbeResult,
    RoundResult,
)
from tensornode.scoring.subnets import SUBNETS, Subnet, get_subnet

__all__ = [
    "SUBNETS",
    "Challenge",
    "ComponentWeights",
    "Evidence",
    "ManualResult",
    "MinerScore",
    "MinerTarget",
    "ProbeResult",
    "RoundOptions",
    "RoundResult",
    "Subnet",
    "get_subnet",
    "make_embedder",
    "make_judge",
    "make_probe_client",
    "plan_round",
    "ranking",
    "round_options",
    "run_round",
    "score_epoch",
    "subnet_from_settings",
    "validate_manually",
]
