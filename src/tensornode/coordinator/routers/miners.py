"""``/miners``: the network's miners (public reads), and bring-your-own registration."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from tensornode.contracts.common import MAX_ROW_NUMBER
from tensornode.contracts.coordinator import MinerCreate, MinerPublic, MinersPublic
from tensornode.coordinator.deps import CoordinatorDep, CurrentAccount, OwnedMiner

router = APIRouter(prefix="/miners", tags=["miners"])


@router.get("")
async def list_miners(
    core: CoordinatorDep,
    subnet: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    owner: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ROW_NUMBER)] = 0,
) -> MinersPublic:
    """Every miner on the network (public), with uptime and request figures."""
    miners, count = await core.miners.search(
        subnet=subnet, status=status, owner=owner, limit=limit, offset=offset
    )
    return MinersPublic(data=[await core.miners.public(m) for m in miners], count=count)


@router.get("/{miner_id}")
async def get_miner(
    miner_id: Annotated[str, Path(max_length=64)], core: CoordinatorDep
) -> MinerPublic:
    """One miner (public)."""
    return await core.miners.public(await core.miners.get(miner_id))


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_miner(
    body: MinerCreate, account: CurrentAccount, core: CoordinatorDep
) -> MinerPublic:
    """Register a miner you run yourself; it must pass ``tensornode miner check`` (422
    with the failed checks otherwise). Private and loopback endpoints only in dev mode."""
    return await core.miners.public(await core.miners.register(account.id, body))


@router.delete("/{miner_id}")
async def deregister_miner(miner: OwnedMiner, core: CoordinatorDep) -> MinerPublic:
    """Take your registered miner off the network."""
    return await core.miners.public(await core.miners.deregister(miner.id))
