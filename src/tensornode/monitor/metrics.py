"""Prometheus metrics of the monitor, on the registry they are given (or one of their own).

Each coordinator app has its own ``CollectorRegistry`` (see ``monitor/routes.py``), so
several apps in one process (tests) never collide on metric names.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

PROBE_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MonitorMetrics:
    """Probes by result, miners up, restarts by outcome, probe latency."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.probes = Counter(
            "tensornode_miner_probes",
            "Health probes of miners by result: ok, timeout, unreachable, unhealthy, not_running.",
            ["result"],
            registry=self.registry,
        )
        self.up = Gauge(
            "tensornode_miner_up",
            "1 when the miner's last state is healthy, 0 otherwise.",
            ["miner_id"],
            registry=self.registry,
        )
        self.restarts = Counter(
            "tensornode_miner_restarts",
            "Restarts of miners by the monitor, by outcome (ok, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.probe_latency = Histogram(
            "tensornode_miner_probe_latency_seconds",
            "Latency of health probes, failed ones included.",
            buckets=PROBE_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_probe(self, result: str, latency_s: float | None) -> None:
        """Count a probe; ``latency_s`` None when no request was sent (process not running)."""
        self.probes.labels(result=result).inc()
        if latency_s is not None:
            self.probe_latency.observe(latency_s)

    def set_up(self, miner_id: str, up: bool) -> None:
        self.up.labels(miner_id=miner_id).set(1 if up else 0)

    def forget(self, miner_id: str) -> None:
        """Drop the gauge of a miner that is no longer monitored."""
        try:
            self.up.remove(miner_id)
        except KeyError:
            return

    def render(self) -> bytes:
        """The text exposition format, for ``GET /metrics``."""
        return bytes(generate_latest(self.registry))
