"""What the monitor needs from the coordinator, as a Protocol (no database, no HTTP here).

The coordinator's adapter (:mod:`tensornode.monitor.coordinator_fleet`) implements it on
its database and runtimes; tests may implement it with a few lines of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tensornode.monitor.probe import ProbeResult
from tensornode.monitor.tracker import Event


@dataclass(frozen=True)
class MonitoredMiner:
    """A miner the monitor probes."""

    miner_id: str
    endpoint: str
    restartable: bool  # a managed miner whose runtime the coordinator controls
    handle: str | None = None  # builtin: the pid; docker: the container name
    nonce: str | None = None  # the deployment's, reported in /health (runtimes/identity.py)
    nonce_required: bool = False  # the reference miner must report it


class MinerFleet(Protocol):
    """The coordinator's side of monitoring."""

    async def monitored_miners(self) -> Sequence[MonitoredMiner]:
        """Every miner that should be up now (deployed healthy at least once, not stopped)."""
        ...

    async def is_running(self, miner: MonitoredMiner) -> bool:
        """Whether the miner's process or container is alive (True for external miners)."""
        ...

    async def restart(self, miner: MonitoredMiner) -> MonitoredMiner:
        """Stop what is left of the miner, start it again and count the restart.

        Raises TensorNodeError when it cannot.
        """
        ...

    async def record_probe(self, miner: MonitoredMiner, probe: ProbeResult) -> None: ...

    async def record_events(
        self, miner: MonitoredMiner, events: Sequence[Event], *, health: str
    ) -> None:
        """Store transitions where the API shows them, and the miner's current health."""
        ...
