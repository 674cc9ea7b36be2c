"""The report of ``tensornode miner check``: one verdict per check, and the whole.

``fail`` means the miner breaks the contract (../shared/reference/contracts.md) and must
not be registered; ``warn`` means it works with TensorNode but a good miner does better
(4xx on bad input, JSON error bodies, real uptime, ``usage``); ``pass`` is the good path.
The coordinator returns this report to a miner it refuses, so it is a wire format.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class CheckStatus(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


class CheckResult(BaseModel):
    """One check: its dotted name (``health.fields``), verdict and why."""

    name: str
    status: CheckStatus
    reason: str
    latency_ms: float | None = Field(None, description="time of the request this check made")


class CheckReport(BaseModel):
    """Every check run against one miner, in the order they ran."""

    url: str
    reachable: bool = Field(description="false when nothing answered at the URL at all")
    ok: bool = Field(description="true when no check failed (warnings allowed)")
    results: list[CheckResult]
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_samples: int = 0

    def by_status(self, status: CheckStatus) -> list[CheckResult]:
        """The results with this verdict, in order."""
        return [r for r in self.results if r.status is status]

    @property
    def failures(self) -> list[CheckResult]:
        return self.by_status(CheckStatus.FAIL)

    @property
    def warnings(self) -> list[CheckResult]:
        return self.by_status(CheckStatus.WARN)

    def result(self, name: str) -> CheckResult | None:
        """The result of the check called ``name``, if it ran."""
        return next((r for r in self.results if r.name == name), None)
