"""Our reference miner (``tensornode miner serve``) passes ``miner check`` cleanly."""

from __future__ import annotations

import subprocess

from tensornode.contracts.miner_check import CheckStatus
from tensornode.miner.check import check_miner

from .servers import TENSORNODE


async def test_reference_miner_passes_without_warnings(reference_miner: str) -> None:
    report = await check_miner(reference_miner, timeout=30, requests=3, model_type="llm")

    assert report.ok
    assert [r for r in report.results if r.status is not CheckStatus.PASS] == []
    assert report.result("chat/llm.answer") is not None
    assert report.latency_samples == 3


def test_cli_reference_miner_exits_zero(reference_miner: str) -> None:
    proc = subprocess.run(
        [str(TENSORNODE), "miner", "check", reference_miner, "-n", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the miner keeps the contract" in proc.stdout
    assert " 0 warnings, 0 failed" in proc.stdout
