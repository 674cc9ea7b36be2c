"""Wire shapes of validation, scores and the leaderboard (camelCase, as the whole API).

Validators submit *observations* only (status, answer, latency per challenge and
miner) with the round's seed; the coordinator regenerates the challenges from the seed
and grades the answers itself, so no validator supplies its own truth or its own scores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from tensornode.contracts.coordinator import WireModel

MAX_SUBMITTED_ANSWER = 4000
"""Characters of an answer a validator submits for grading (longer answers are cut)."""
MAX_SUBMITTED_PROBES = 20_000

ProbeStatusField = Literal["ok", "timeout", "error"]
VerdictField = Literal["pass", "fail", "penalty", "timeout", "error"]


class TargetPublic(WireModel):
    """One miner a validator should probe, with the coordinator's signature header for
    each of its challenges in the issued round (challenge id -> header value)."""

    miner_id: str
    url: str
    model_type: str | None = None
    signatures: dict[str, str] = Field(default_factory=dict)


class TargetsPublic(WireModel):
    """``GET /validation/targets``: the miners of a subnet, how to run the round, and
    the seed the coordinator issued for it (with its ticket; submit both back)."""

    subnet: str
    challenges_per_round: int
    timeout_s: float
    send_seed: bool
    seed: str
    issued_at: datetime
    ticket: str
    data: list[TargetPublic]
    count: int


class ProbeSubmission(WireModel):
    """What one probe gave: the validator's observation, never a score."""

    challenge_id: str = Field(min_length=1, max_length=64)
    miner_id: str = Field(min_length=1, max_length=64)
    status: ProbeStatusField
    answer: str | None = Field(None, max_length=MAX_SUBMITTED_ANSWER)
    latency_s: float | None = Field(None, ge=0, le=3600)
    http_status: int | None = Field(None, ge=100, le=599)
    error: str | None = Field(None, max_length=300)


class RoundSubmission(WireModel):
    """``POST /validation/rounds``: a finished round and the seed that planned it."""

    subnet: str = Field(min_length=1, max_length=40)
    seed: str = Field(pattern=r"^[0-9]{1,45}$", description="the seed the coordinator issued")
    issued_at: datetime = Field(description="when it was issued (from the targets)")
    ticket: str = Field(pattern=r"^[0-9a-f]{64}$", description="the seed's ticket")
    challenges: int = Field(ge=1, le=64, description="how many challenges were planned")
    started_at: datetime
    finished_at: datetime
    probes: list[ProbeSubmission] = Field(min_length=1, max_length=MAX_SUBMITTED_PROBES)


class MinerRoundSummary(WireModel):
    miner_id: str
    probes: int
    answered: int
    passed: int
    quality: float


class RoundPublic(WireModel):
    """A stored round and how its miners did (the coordinator's grading)."""

    round_id: str
    subnet: str
    validator: str
    source: str
    started_at: datetime
    finished_at: datetime
    challenges: int
    miners: list[MinerRoundSummary]


class ManualRequest(WireModel):
    """``POST /validation/manual``: one question and its expected answer."""

    subnet: str = Field("llm", min_length=1, max_length=40)
    question: str = Field(min_length=1, max_length=4000)
    expected: str = Field(min_length=1, max_length=4000)
    method: Literal["auto", "numeric", "exact", "embedding", "judge", "heuristic"] = "auto"


class ManualAnswerPublic(WireModel):
    miner_id: str
    name: str
    owner: str
    status: ProbeStatusField
    answer: str | None
    latency_s: float | None
    score: float
    verdict: VerdictField
    reason: str
    method: str


class ManualPublic(WireModel):
    """Each miner's answer, latency and score (informational: never paid)."""

    subnet: str
    question: str
    expected: str
    data: list[ManualAnswerPublic]
    count: int


class ComponentsPublic(WireModel):
    quality: float
    speed: float
    availability: float
    participation: float
    total: float


class EvidencePublic(WireModel):
    """One probe behind a score."""

    round_id: str
    at: datetime
    challenge_id: str
    challenge_hash: str
    family: str
    status: str
    answer: str | None
    latency_s: float | None
    score: float
    speed: float
    verdict: str
    reason: str


class EvidencePage(WireModel):
    data: list[EvidencePublic]
    count: int
    limit: int
    offset: int


class EpochScorePublic(ComponentsPublic):
    """A miner's components over (part of) an epoch, with the plain-language why."""

    epoch: int
    starts_at: datetime
    ends_at: datetime
    final: bool = Field(description="false while the epoch is running")
    weights: dict[str, float]
    probes: int
    answered: int
    passed: int
    health_probes: int
    health_successes: int
    consistency: float = Field(
        1.0,
        description="factor on the total for serving users worse than probes (1: as well)",
    )
    traffic: int = Field(0, description="sampled user answers graded")
    traffic_passed: int = Field(0, description="of those, the ones that held up")
    why: list[str]


class SettledScorePublic(ComponentsPublic):
    """A miner's frozen score in a settled epoch's report."""

    epoch: int
    starts_at: datetime
    ends_at: datetime
    evidence_count: int
    evidence_sha256: str
    reward: int = Field(description="what the owner was paid for all its miners that epoch")


class MinerScoresPublic(WireModel):
    """``GET /miners/{id}/scores``."""

    miner_id: str
    name: str
    subnet: str
    current: EpochScorePublic
    history: list[SettledScorePublic]
    evidence: EvidencePage


class LeaderboardRow(ComponentsPublic):
    rank: int
    miner_id: str
    name: str
    owner: str
    status: str
    probes: int
    passed: int


class LeaderboardPublic(WireModel):
    subnet: str
    epoch: int
    starts_at: datetime
    ends_at: datetime
    weights: dict[str, float]
    data: list[LeaderboardRow]
    count: int


class ValidatorPublic(WireModel):
    account_id: str
    source: Literal["coordinator", "settings", "registry"]
    note: str | None = None


class ValidatorsPublic(WireModel):
    data: list[ValidatorPublic]
    count: int


class RoundsPublic(WireModel):
    """``GET /validation/rounds``: stored rounds, latest first."""

    data: list[RoundPublic]
    count: int
