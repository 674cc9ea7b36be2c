"""Bodies of the gateway's own routes: the chat answer with its miner, and keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tensornode.contracts.coordinator import WireModel
from tensornode.contracts.miner import ChatResponse


class GatewayChatResponse(ChatResponse):
    """The miner contract's answer plus the id of the miner that served it."""

    miner_id: str


class GatewayKeyCreate(WireModel):
    """``POST /gateway/keys``: a name to tell keys apart, an optional own rate limit."""

    name: str | None = Field(None, min_length=1, max_length=100)
    rate_limit_per_min: float | None = Field(
        None, gt=0, le=1_000_000, description="requests per minute (default: the gateway's)"
    )


class GatewayKeyPublic(WireModel):
    id: int
    name: str
    prefix: str
    rate_limit_per_min: float | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class GatewayKeyCreated(GatewayKeyPublic):
    """A new key: ``key`` is the secret, shown only in this answer."""

    key: str


class GatewayKeysPublic(WireModel):
    data: list[GatewayKeyPublic]
    count: int
