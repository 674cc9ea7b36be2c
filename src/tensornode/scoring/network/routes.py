"""Routes of validation, scores and the leaderboard; thin over the service and reads.

Validators only (API key or session of a registered validator; 403 otherwise):
``GET /validation/targets?subnet=``, ``POST /validation/rounds``,
``POST /validation/manual``. Public: ``GET /validation/rounds``, ``GET /validators``,
``GET /miners/{id}/scores``, ``GET /leaderboard?subnet=&epoch=``. (``/epochs`` and
``/rewards``: :mod:`tensornode.epochs.routes`.)

``build_app`` calls :func:`attach_validation` and enters
:func:`~tensornode.scoring.network.runtime.validation_running` in its lifespan.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, status

from tensornode.contracts.common import MAX_ROW_NUMBER
from tensornode.coordinator.deps import CurrentAccount
from tensornode.scoring.manual import validate_manually
from tensornode.scoring.network.reads import ValidationReads
from tensornode.scoring.network.runtime import ValidationRuntime
from tensornode.scoring.network.schemas import (
    LeaderboardPublic,
    ManualAnswerPublic,
    ManualPublic,
    ManualRequest,
    MinerScoresPublic,
    RoundPublic,
    RoundsPublic,
    RoundSubmission,
    TargetPublic,
    TargetsPublic,
    ValidatorsPublic,
)

router = APIRouter(tags=["validation"])
Subnet = Annotated[str, Query(min_length=1, max_length=40)]


def attach_validation(app: FastAPI, runtime: ValidationRuntime) -> ValidationRuntime:
    """Put the app's validation runtime (loops not started) on ``app.state.validation``."""
    app.state.validation = runtime
    app.state.validation_reads = ValidationReads(runtime)
    return runtime


def _runtime(request: Request) -> ValidationRuntime:
    runtime: ValidationRuntime = request.app.state.validation
    return runtime


def _reads(request: Request) -> ValidationReads:
    reads: ValidationReads = request.app.state.validation_reads
    return reads


RuntimeDep = Annotated[ValidationRuntime, Depends(_runtime)]
ReadsDep = Annotated[ValidationReads, Depends(_reads)]


async def current_validator(account: CurrentAccount, runtime: RuntimeDep) -> str:
    """The caller's account id if it is a registered validator; 403 otherwise."""
    return await runtime.service.require_validator(account)


ValidatorAccount = Annotated[str, Depends(current_validator)]


@router.get("/validation/targets")
async def targets(
    validator: ValidatorAccount, runtime: RuntimeDep, subnet: Subnet = "llm"
) -> TargetsPublic:
    """The miners of ``subnet`` to probe (every eligible one: a round must cover them
    all), the round's size and per-request timeout, and the seed issued for it."""
    service = runtime.service
    spec = service.subnet(subnet)
    targets = await service.targets(subnet)
    issued = service.issue_seed(validator, spec.name, [t.miner_id for t in targets])
    signatures = service.presign(spec, issued.seed, targets)
    data = [
        TargetPublic(miner_id=t.miner_id, url=t.url, signatures=signatures[t.miner_id])
        for t in targets
    ]
    settings = runtime.settings.validator
    return TargetsPublic(
        subnet=spec.name,
        challenges_per_round=service.challenges_per_round(spec),
        timeout_s=settings.timeout_s,
        send_seed=settings.send_seed,
        seed=str(issued.seed),
        issued_at=issued.issued_at,
        ticket=issued.ticket,
        data=data,
        count=len(data),
    )


@router.post("/validation/rounds", status_code=status.HTTP_201_CREATED)
async def submit_round(
    body: RoundSubmission, validator: ValidatorAccount, runtime: RuntimeDep
) -> RoundPublic:
    """Submit a finished round (seed + observations); the coordinator re-plans its
    challenges from the seed and grades every answer itself."""
    return await runtime.service.submit_round(validator, body)


@router.get("/validation/rounds")
async def list_rounds(
    runtime: RuntimeDep,
    subnet: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_NUMBER)] = 0,
) -> RoundsPublic:
    """Stored rounds, latest first, with each miner's pass count (public)."""
    data, count = await runtime.service.rounds(subnet, limit=limit, offset=offset)
    return RoundsPublic(data=data, count=count)


@router.post("/validation/manual")
async def manual(
    body: ManualRequest, validator: ValidatorAccount, runtime: RuntimeDep
) -> ManualPublic:
    """Ask every miner of a subnet one question; each answer, latency and score
    (informational: manual results never count towards rewards)."""
    service = runtime.service
    spec = service.subnet(body.subnet)
    miners = await service.target_miners(spec.name)
    targets = await service.targets(spec.name)
    settings = runtime.settings.validator
    results = await validate_manually(
        targets,
        body.question,
        body.expected,
        client=runtime.probe_client,
        timeout=settings.timeout_s,
        concurrency=settings.concurrency,
        method=body.method,
        embedder=runtime.embedder() if body.method in ("auto", "embedding") else None,
        judge=runtime.judge,
        pass_threshold=settings.pass_threshold or spec.pass_threshold,
    )
    by_id = {m.id: m for m in miners}
    data = [
        ManualAnswerPublic(
            miner_id=r.miner_id, name=by_id[r.miner_id].name, owner=by_id[r.miner_id].owner_id,
            status=r.status, answer=r.answer, latency_s=r.latency_s, score=r.score,
            verdict=r.verdict, reason=r.reason, method=r.method,
        )
        for r in results
    ]  # fmt: skip
    return ManualPublic(
        subnet=spec.name, question=body.question, expected=body.expected, data=data,
        count=len(data),
    )  # fmt: skip


@router.get("/validators")
async def list_validators(runtime: RuntimeDep) -> ValidatorsPublic:
    """Every account allowed to validate, and why (public)."""
    data = await runtime.service.validators()
    return ValidatorsPublic(data=data, count=len(data))


@router.get("/miners/{miner_id}/scores")
async def miner_scores(
    miner_id: Annotated[str, Path(max_length=64)],
    reads: ReadsDep,
    epoch: Annotated[
        int | None, Query(ge=0, le=MAX_ROW_NUMBER, description="default: the running epoch")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_NUMBER)] = 0,
) -> MinerScoresPublic:
    """A miner's score components with their evidence (paginated) and why, plus its
    frozen scores in settled epochs (public)."""
    return await reads.miner_scores(miner_id, epoch=epoch, limit=limit, offset=offset)


@router.get("/leaderboard")
async def leaderboard(
    reads: ReadsDep,
    subnet: Subnet = "llm",
    epoch: Annotated[
        int | None, Query(ge=0, le=MAX_ROW_NUMBER, description="default: the running epoch")
    ] = None,
) -> LeaderboardPublic:
    """The subnet's miners ranked by total score in one epoch (default: the running one,
    so far) (public)."""
    return await reads.leaderboard(subnet, epoch)
