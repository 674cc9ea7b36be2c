"""Wire shapes of epochs and rewards (camelCase, as the whole API)."""

from __future__ import annotations

from datetime import datetime

from tensornode.contracts.coordinator import WireModel


class EpochSummary(WireModel):
    number: int
    status: str
    starts_at: datetime
    ends_at: datetime
    emission: int | None
    unit: str
    miners: int | None
    payouts: int | None
    hash: str | None


class CurrentEpoch(WireModel):
    number: int
    starts_at: datetime
    ends_at: datetime


class EpochsPublic(WireModel):
    current: CurrentEpoch
    data: list[EpochSummary]
    count: int


class RewardPublic(WireModel):
    epoch: int
    kind: str
    amount: int
    transaction_id: str | None
    ends_at: datetime


class RewardsPublic(WireModel):
    account: str
    unit: str
    total: int
    balance: int
    data: list[RewardPublic]
    count: int
