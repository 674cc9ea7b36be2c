"""A validation round: plan fresh challenges from a seed, probe every miner, grade.

``run_round`` is one pass with no database and no sleeping, so the coordinator's loop
and tests drive it the same way. The seed decides everything that is drawn (families,
tasks, request parameters, each miner's challenge order, the commitment salt): the same
seed replays the same round, and a fresh secret seed (issued by the coordinator) makes a
round nobody could prepare for. Keep the seed secret until the epoch's reveal: it
derives the salt.

Generated tasks are phrased like users' messages (:mod:`.challenges.phrasing`). Each
miner gets its own challenge instances: the same family mix for everyone (a fair
comparison), but tasks drawn from the seed *and the miner's id*, so no two miners are
asked the same thing and an answer cannot be copied from another miner within a round.
Open questions come only from a private :class:`QuestionBank`; without one a round is
generated tasks only.

Concurrency: each miner receives its challenges one after another, so a miner never
competes with itself for the latency it is judged on, and up to ``concurrency`` probes
are in flight across miners. Miners that fail are scored zero, never skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from tensornode.net.signing import RequestSigner
from tensornode.scoring.challenges import FAMILIES
from tensornode.scoring.challenges.open_questions import QuestionBank
from tensornode.scoring.challenges.phrasing import phrase
from tensornode.scoring.grading import Embedder, GradingOptions, grade_round
from tensornode.scoring.probe import (
    MAX_RESPONSE_BYTES,
    ProbeClient,
    probe_payload,
    send_probe,
)
from tensornode.scoring.schemas import Challenge, MinerTarget, ProbeResult, RoundResult
from tensornode.scoring.scorers.embedding import EmbeddingScorer, Prefetcher
from tensornode.scoring.scorers.judge import JudgeScorer
from tensornode.scoring.subnets import Subnet, get_subnet

# request parameters drawn like ordinary user traffic (the guide's defaults are common)
TEMPERATURES = (0.7, 0.7, 0.7, 0.0, 0.2, 0.5, 1.0)
MAX_TOKENS = (100, 100, 128, 200, 256)


@dataclass(frozen=True, slots=True)
class RoundOptions:
    """Everything about a round that is not the miners, the subnet or the seed."""

    grading: GradingOptions = field(default_factory=GradingOptions)
    challenges: int | None = None  # default: the subnet's challenges_per_round
    send_seed: bool = False  # add a per-miner ``seed`` to each request
    # Encode open answers while still probing. Off by default: on a CPU-bound validator
    # the encoder's threads delay the event loop, and that delay would be charged to
    # miners as latency. Worth it with spare cores or a GPU embedding device.
    overlap_embedding: bool = False
    max_response_bytes: int = MAX_RESPONSE_BYTES


def round_id_for(rng_seed: int) -> str:
    """The public id of the round a seed makes (a one-way digest of the seed)."""
    return hashlib.sha256(f"tensornode-round:{rng_seed}".encode()).hexdigest()[:16]


OPEN = "open"


def _rng(rng_seed: int, label: str) -> random.Random:
    digest = hashlib.sha256(f"{rng_seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def plan_round(
    subnet: Subnet,
    rng_seed: int,
    count: int | None = None,
    *,
    miner_id: str = "",
    bank: QuestionBank | None = None,
) -> list[Challenge]:
    """Miner ``miner_id``'s challenges in the round ``rng_seed`` makes (drawn from the
    seed and the miner id alone). Open questions only with a ``bank``."""
    round_rng = random.Random(rng_seed)
    salt = round_rng.randbytes(16).hex()
    round_id = round_id_for(rng_seed)
    names = subnet.pick_families(round_rng, count, exclude=() if bank is not None else (OPEN,))
    rng = _rng(rng_seed, f"plan:{miner_id}")
    rng.shuffle(names)
    prefix = round_id
    if miner_id:
        prefix += "-" + hashlib.sha256(miner_id.encode()).hexdigest()[:8]
    challenges: list[Challenge] = []
    for i, name in enumerate(names):
        family = FAMILIES[name]
        if name == OPEN and bank is not None:  # a miner's questions differ within a round
            task = bank.task(rng, avoid={c.question for c in challenges if c.question})
        else:
            task = family.generate(rng)
        challenges.append(
            Challenge(
                id=f"{prefix}-{i}",
                family=name,
                prompt=task.prompt if family.open else phrase(rng, task.prompt),
                expected=task.expected,
                salt=salt,
                open=family.open,
                temperature=rng.choice(TEMPERATURES),
                max_tokens=rng.choice(MAX_TOKENS),
                question=task.question,
            )
        )
    return challenges


def plan_for_miners(
    subnet: Subnet,
    rng_seed: int,
    miner_ids: Sequence[str],
    count: int | None = None,
    bank: QuestionBank | None = None,
) -> dict[str, list[Challenge]]:
    """miner id -> its own challenges in the round ``rng_seed`` makes."""
    return {m: plan_round(subnet, rng_seed, count, miner_id=m, bank=bank) for m in miner_ids}


def request_payloads(
    miner_id: str, challenges: Sequence[Challenge], rng_seed: int, send_seed: bool
) -> list[dict[str, Any]]:
    """The request bodies miner ``miner_id``'s challenges are sent with (drawn from the
    round's seed: the coordinator signs them in advance for a remote validator)."""
    rng = _rng(rng_seed, f"send:{miner_id}")
    return [probe_payload(ch, rng.randrange(2**31) if send_seed else None) for ch in challenges]


async def probe_miners(
    miners: Sequence[MinerTarget],
    plans: Mapping[str, Sequence[Challenge]],
    *,
    rng_seed: int,
    client: ProbeClient,
    concurrency: int,
    timeout: float,
    options: RoundOptions,
    on_answer: Callable[[Challenge, ProbeResult], None] | None = None,
) -> dict[str, list[ProbeResult]]:
    """challenge id -> its miner's result (``plans``: miner id -> its challenges);
    ``on_answer`` sees each result as it arrives. Results carry their arrival rank."""
    gate = asyncio.Semaphore(concurrency)
    results: dict[str, list[ProbeResult]] = {}
    arrived = 0

    async def one_miner(miner: MinerTarget) -> None:
        nonlocal arrived
        challenges = plans[miner.miner_id]
        payloads = request_payloads(miner.miner_id, challenges, rng_seed, options.send_seed)
        for ch, payload in zip(challenges, payloads, strict=True):
            async with gate:
                result = await send_probe(
                    client,
                    miner,
                    payload,
                    timeout=timeout,
                    max_bytes=options.max_response_bytes,
                )
            arrived += 1
            result = replace(result, order=arrived)
            results[ch.id] = [result]
            if on_answer is not None:
                on_answer(ch, result)

    await asyncio.gather(*(one_miner(m) for m in miners))
    return results


async def run_round(
    miners: Sequence[MinerTarget],
    subnet: Subnet | str,
    *,
    rng_seed: int,
    client: ProbeClient,
    concurrency: int = 64,
    timeout: float = 10.0,
    embedder: Embedder | None = None,
    judge: JudgeScorer | None = None,
    options: RoundOptions | None = None,
    bank: QuestionBank | None = None,
) -> RoundResult:
    """Probe every miner with the round's challenges and grade every answer.

    ``client`` is the process's shared :class:`ProbeClient` (:func:`make_probe_client`).
    ``embedder`` defaults to the offline MiniLM scorer (pass one per process to keep its
    cache); with ``judge`` open answers are judged instead. Raises only on bad input:
    every miner failure becomes evidence.
    """
    if isinstance(subnet, str):
        subnet = get_subnet(subnet)
    if len({m.miner_id for m in miners}) != len(miners):
        raise ValueError("miner ids in a round must be unique")
    options = options or RoundOptions(grading=GradingOptions(pass_threshold=subnet.pass_threshold))
    started = datetime.now(UTC)
    await client.prune()
    plans = plan_for_miners(
        subnet, rng_seed, [m.miner_id for m in miners], options.challenges, bank
    )
    challenges = [ch for m in miners for ch in plans[m.miner_id]]
    prefetcher: Prefetcher | None = None
    if options.overlap_embedding and judge is None and any(c.open for c in challenges):
        embedder = embedder or EmbeddingScorer()
        if isinstance(embedder, EmbeddingScorer):
            prefetcher = Prefetcher(embedder)

    def on_answer(ch: Challenge, result: ProbeResult) -> None:
        # encode open answers while the round is still waiting on slower miners
        if prefetcher is not None and ch.open and result.answer and result.answer.strip():
            prefetcher.add(result.answer)

    probes = await probe_miners(
        miners,
        plans,
        rng_seed=rng_seed,
        client=client,
        concurrency=concurrency,
        timeout=timeout,
        options=options,
        on_answer=on_answer,
    )
    if prefetcher is not None:
        await prefetcher.drain()
    round_id = round_id_for(rng_seed)
    evidence, medians = await grade_round(
        round_id, challenges, probes, embedder=embedder, judge=judge, options=options.grading
    )
    return RoundResult(
        round_id=round_id,
        subnet=subnet.name,
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        challenges=tuple(challenges),
        evidence=tuple(evidence),
        medians=medians,
    )


def make_probe_client(signer: RequestSigner | None = None) -> ProbeClient:
    """The shared probe client (one per process): the gateway's miner client, signing
    with ``signer`` (the coordinator's key) when given."""
    return ProbeClient(signer=signer)
