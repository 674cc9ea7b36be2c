"""A validator in its own process (``tensornode validator run``), signed in to a coordinator.

One round: fetch the subnet's miners, the round's size and the seed the coordinator
issues from ``GET /validation/targets``, plan each miner's challenges from it, probe
every listed miner directly (the engine's :func:`probe_miners`: the same client and
bytes as the gateway and the in-process validator, each request carrying the signature
the coordinator made for it in advance: only the coordinator holds the key), then
submit the seed, its ticket and what was observed to ``POST /validation/rounds``. The
coordinator re-plans and grades: this process needs no scoring model and never sends a
score.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from tensornode.client import CoordinatorClient
from tensornode.errors import TensorNodeError, UpstreamError
from tensornode.gateway.upstream import chat_body
from tensornode.scoring.network.schemas import (
    MAX_SUBMITTED_ANSWER,
    ProbeSubmission,
    RoundPublic,
    RoundSubmission,
    TargetsPublic,
)
from tensornode.scoring.probe import Presigned, ProbeClient
from tensornode.scoring.round import (
    RoundOptions,
    plan_for_miners,
    probe_miners,
    request_payloads,
)
from tensornode.scoring.schemas import Challenge, MinerTarget, ProbeResult
from tensornode.scoring.subnets import get_subnet

log = logging.getLogger(__name__)


async def fetch_targets(api: CoordinatorClient, subnet: str) -> TargetsPublic:
    """The subnet's miners to probe and how (``GET /validation/targets``)."""
    response = await api.request("GET", "/validation/targets", params={"subnet": subnet})
    try:
        return TargetsPublic.model_validate(response.json())
    except (ValueError, ValidationError):
        raise UpstreamError("the coordinator's targets are malformed") from None


def _submission(probe: ProbeResult, challenge_id: str) -> ProbeSubmission:
    answer = probe.answer
    if answer is not None and len(answer) > MAX_SUBMITTED_ANSWER:
        answer = answer[:MAX_SUBMITTED_ANSWER]
    return ProbeSubmission(
        challenge_id=challenge_id,
        miner_id=probe.miner_id,
        status=probe.status,
        answer=answer,
        latency_s=probe.latency_s,
        http_status=probe.http_status,
        error=None if probe.error is None else probe.error[:300],
    )


async def run_remote_round(
    api: CoordinatorClient, subnet: str, client: ProbeClient, *, concurrency: int = 64
) -> RoundPublic | None:
    """One round against ``subnet``'s miners, submitted; None when it has no miners."""
    targets = await fetch_targets(api, subnet)
    if not targets.data:
        return None
    seed = int(targets.seed)
    miners: Sequence[MinerTarget] = [
        MinerTarget(t.miner_id, t.url, t.model_type) for t in targets.data
    ]
    plans = plan_for_miners(
        get_subnet(targets.subnet),
        seed,
        [m.miner_id for m in miners],
        targets.challenges_per_round,
    )
    client.signer = _presigned(targets, plans, seed)
    started = datetime.now(UTC)
    probes = await probe_miners(
        miners,
        plans,
        rng_seed=seed,
        client=client,
        concurrency=concurrency,
        timeout=targets.timeout_s,
        options=RoundOptions(send_seed=targets.send_seed),
    )
    arrived = sorted(
        ((p, cid) for cid, results in probes.items() for p in results), key=lambda x: x[0].order
    )
    body = RoundSubmission(
        subnet=targets.subnet,
        seed=targets.seed,
        issued_at=targets.issued_at,
        ticket=targets.ticket,
        challenges=targets.challenges_per_round,
        started_at=started,
        finished_at=datetime.now(UTC),
        probes=[_submission(p, cid) for p, cid in arrived],  # in arrival order
    )
    payload = body.model_dump(mode="json", by_alias=True)
    response = await api.request("POST", "/validation/rounds", json=payload)
    try:
        return RoundPublic.model_validate(response.json())
    except (ValueError, ValidationError):
        raise UpstreamError("the coordinator's answer to a round is malformed") from None


def _presigned(
    targets: TargetsPublic, plans: Mapping[str, Sequence[Challenge]], seed: int
) -> Presigned:
    """The coordinator's signatures of this round's requests, by miner and body."""
    headers: dict[tuple[str, bytes], str] = {}
    for target in targets.data:
        challenges = plans[target.miner_id]
        payloads = request_payloads(target.miner_id, challenges, seed, targets.send_seed)
        for ch, payload in zip(challenges, payloads, strict=True):
            if ch.id in target.signatures:
                headers[(target.url, chat_body(payload))] = target.signatures[ch.id]
    return Presigned(headers)


RoundCallback = Callable[[str, RoundPublic | None], None]
"""Told each subnet's outcome: the stored round, or None when the subnet had no miners."""


async def run_validator(
    api: CoordinatorClient,
    subnets: Sequence[str],
    *,
    once: bool,
    interval_s: float,
    concurrency: int = 64,
    on_round: RoundCallback | None = None,
) -> list[RoundPublic]:
    """Rounds for every subnet, once or every ``interval_s`` until cancelled.

    Once, the first error ends the run; looping, a failed round is logged and the next
    one comes at the next interval (a coordinator restart must not end a validator).
    """
    done: list[RoundPublic] = []
    async with ProbeClient() as client:
        while True:
            for subnet in subnets:
                try:
                    result = await run_remote_round(api, subnet, client, concurrency=concurrency)
                except TensorNodeError as exc:
                    if once:
                        raise
                    log.error("round on subnet %s failed: %s", subnet, exc.message)
                    continue
                if result is not None:
                    done.append(result)
                if on_round is not None:
                    on_round(subnet, result)
            if once:
                return done
            await asyncio.sleep(interval_s)
