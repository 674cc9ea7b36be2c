"""Local VM port ranges of the CLI tests."""

from __future__ import annotations

PORTS = {
    "cli": {"port_range_start": 31000, "port_range_end": 31999},
    "up": {"port_range_start": 32000, "port_range_end": 32999},
}
"""Local VM ports of these tests, apart from the default range other suites use, so a miner
of a test running beside them can never answer on one of ours."""
