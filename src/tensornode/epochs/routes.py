"""Routes of epochs and rewards (public), thin over :class:`EpochReads`:
``GET /epochs``, ``GET /epochs/{n}`` (the stored report JSON, byte for byte, as
``tensornode epoch verify`` expects), ``GET /rewards?account=``.

``build_app`` calls :func:`attach_epochs` after the validation runtime is attached (the
scheduler lives there, with the loops it runs beside).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response

from tensornode.contracts.common import MAX_ROW_NUMBER
from tensornode.epochs.reads import EpochReads
from tensornode.epochs.schemas import EpochsPublic, RewardsPublic
from tensornode.scoring.network.runtime import ValidationRuntime

router = APIRouter(tags=["epochs"])


def attach_epochs(app: FastAPI, runtime: ValidationRuntime) -> EpochReads:
    """Build the app's epoch reads on ``app.state.epoch_reads``."""
    reads = EpochReads(runtime)
    app.state.epoch_reads = reads
    return reads


def _reads(request: Request) -> EpochReads:
    reads: EpochReads = request.app.state.epoch_reads
    return reads


ReadsDep = Annotated[EpochReads, Depends(_reads)]


@router.get("/epochs")
async def list_epochs(
    reads: ReadsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_NUMBER)] = 0,
) -> EpochsPublic:
    """Frozen and settled epochs, latest first, and the running epoch's window."""
    return await reads.epochs(limit=limit, offset=offset)


@router.get(
    "/epochs/{number}",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the report"}},
)
async def epoch_report(
    number: Annotated[int, Path(ge=0, le=MAX_ROW_NUMBER)], reads: ReadsDep
) -> Response:
    """A settled epoch's report, exactly as stored and hashed (verify it with
    ``tensornode epoch verify N``); 404 until the epoch is settled."""
    return Response(await reads.report_body(number), media_type="application/json")


@router.get("/rewards")
async def rewards(
    reads: ReadsDep,
    account: Annotated[str, Query(min_length=5, max_length=40)],
    limit: Annotated[int, Query(ge=1, le=1000, description="settled epochs to look at")] = 100,
) -> RewardsPublic:
    """What an account was paid per settled epoch, newest first, and its balance (public)."""
    return await reads.rewards(account, limit=limit)
