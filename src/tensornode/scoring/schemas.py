"""The validator's data: what goes into a round and what comes out of one and of an epoch.

Frozen dataclasses (cheap to build by the thousand in a round; pydantic serialises them
with ``TypeAdapter`` or ``dataclasses.asdict``). No logic here beyond small derived
properties and validation of weights.

A round gives each miner its own challenge instances (same family mix, different
tasks). Each probe leaves one :class:`Evidence`: the challenge's id and salted hash,
the (truncated) answer, latency, verdict and reason, so a miner can ask "why is my
score X" and anyone holding the revealed challenges can recompute it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

ProbeStatus = Literal["ok", "timeout", "error"]
"""ok: an answer came back in time (possibly empty); timeout; error: refused, 5xx, bad JSON."""

Verdict = Literal["pass", "fail", "penalty", "timeout", "error"]
"""pass: score >= the subnet's threshold; fail: below it; penalty: zeroed by a rule."""

TRAFFIC_FAMILY = "traffic"
"""The family of evidence graded from sampled real gateway traffic (not a challenge)."""


@dataclass(frozen=True, slots=True)
class MinerTarget:
    """One miner to probe: its id and base URL (``http://host:3000``).

    ``model_type`` selects ``POST /api/chat/<model_type>`` on a multi-model VM; without it
    the probe goes to the guide's ``POST /api/chat``.
    """

    miner_id: str
    url: str
    model_type: str | None = None

    @property
    def chat_url(self) -> str:
        base = self.url.rstrip("/")
        return f"{base}/api/chat/{self.model_type}" if self.model_type else f"{base}/api/chat"


def challenge_hash(salt: str, prompt: str, expected: str) -> str:
    """sha256 over the round's salt, the prompt and the expected answer (the commitment)."""
    data = f"{salt}\n{prompt}\n{expected}".encode()
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Challenge:
    """One task of a round, drawn for one miner (each miner gets its own instances).

    ``expected`` is the exact answer (verifiable families) or the reference answer (open
    questions). ``hash`` commits to prompt and expected answer under the round's ``salt``;
    publish hashes during the epoch and reveal ``(salt, prompt, expected)`` after it.
    ``temperature``/``max_tokens`` are the request parameters, drawn like user traffic.
    """

    id: str
    family: str
    prompt: str
    expected: str
    salt: str
    open: bool = False
    temperature: float = 0.7
    max_tokens: int = 100
    question: str | None = None  # the bare question of an open challenge (judge prompt)

    @property
    def hash(self) -> str:
        return challenge_hash(self.salt, self.prompt, self.expected)

    def verify(self, committed_hash: str) -> bool:
        """True when this revealed challenge matches a published commitment."""
        return self.hash == committed_hash


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one request to one miner gave: status, answer and the miner-side latency.

    ``latency_s`` runs from the moment the request's first byte is written (after any
    connection setup and after waiting for the validator's own concurrency slot) to the
    moment the whole response body is read; ``None`` on timeout or connection failure.
    """

    miner_id: str
    status: ProbeStatus
    answer: str | None = None
    latency_s: float | None = None
    http_status: int | None = None
    error: str | None = None
    order: int = 0  # arrival rank in the round (the first of identical answers keeps its score)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A scorer's result for one answer: a score in [0, 1] and why."""

    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class Evidence:
    """The record behind one (challenge, miner) score; the unit of every explanation."""

    round_id: str
    challenge_id: str
    challenge_hash: str
    family: str
    miner_id: str
    status: ProbeStatus
    answer: str | None
    latency_s: float | None
    score: float
    verdict: Verdict
    reason: str
    speed: float = 0.0  # credited only when verdict == "pass"

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def answered(self) -> bool:
        """Answered in time with a well-formed reply."""
        return self.status == "ok"

    @property
    def traffic(self) -> bool:
        """Graded from a sampled real user request, not from a challenge."""
        return self.family == TRAFFIC_FAMILY


@dataclass(frozen=True, slots=True)
class RoundResult:
    """One round: its challenges (keep them secret until reveal) and every probe's evidence."""

    round_id: str
    subnet: str
    started_at: str
    finished_at: str
    challenges: tuple[Challenge, ...]
    evidence: tuple[Evidence, ...]
    medians: Mapping[str, float | None] = field(default_factory=dict)

    def commitments(self) -> dict[str, str]:
        """challenge id -> hash: publishable at once, reveals nothing."""
        return {c.id: c.hash for c in self.challenges}

    def by_miner(self) -> dict[str, list[Evidence]]:
        """Evidence grouped by miner id, in challenge order."""
        out: dict[str, list[Evidence]] = {}
        for ev in self.evidence:
            out.setdefault(ev.miner_id, []).append(ev)
        return out


@dataclass(frozen=True, slots=True)
class ComponentWeights:
    """Weights of the four score components; must be non-negative and sum to 1."""

    quality: float = 0.4
    speed: float = 0.3
    availability: float = 0.2
    participation: float = 0.1

    def __post_init__(self) -> None:
        values = (self.quality, self.speed, self.availability, self.participation)
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError(f"weights must be finite and non-negative, got {values}")
        if not math.isclose(sum(values), 1.0, abs_tol=1e-6):
            raise ValueError(f"weights must sum to 1, got {sum(values):.6f}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, float]) -> ComponentWeights:
        """Build from ``{"quality": .., "speed": .., ...}``; unknown keys are an error."""
        unknown = set(data) - {"quality", "speed", "availability", "participation"}
        if unknown:
            raise ValueError(f"unknown weight names: {sorted(unknown)}")
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True, slots=True)
class MinerScore:
    """One miner's components and total over an epoch, with the evidence behind them."""

    miner_id: str
    quality: float
    speed: float
    availability: float
    participation: float
    total: float
    weights: ComponentWeights
    probes: int
    answered: int
    passed: int
    evidence: tuple[Evidence, ...] = ()
    consistency: float = 1.0  # factor for serving users worse than probes (1 when not)
    traffic: int = 0  # sampled user answers graded
    traffic_passed: int = 0  # of those, the ones that held up


@dataclass(frozen=True, slots=True)
class ManualResult:
    """One miner's reply to a manual validation question (informational, never paid)."""

    miner_id: str
    status: ProbeStatus
    answer: str | None
    latency_s: float | None
    score: float
    verdict: Verdict
    reason: str
    method: str
