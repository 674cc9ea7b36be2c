"""A miner written straight from the miner guide passes ``miner check``, with warnings."""

from __future__ import annotations

import json
import subprocess

from tensornode.contracts.miner_check import CheckStatus
from tensornode.miner.check import check_miner

from .servers import TENSORNODE

# What the guide's example does short of a good miner, and nothing else.
EXPECTED_WARNINGS = {
    "chat.usage",  # no usage counts
    "errors.malformed_json",  # the catch-all turns werkzeug's 400 into a 500
    "errors.prompt_type",  # 500
    "errors.max_tokens_type",  # 500
    "errors.missing_prompt",  # answers an empty prompt with 200
    "errors.max_tokens_range",  # answers max_tokens -1 with 200
    "errors.unknown_model_type",  # Flask's HTML 404 page
    "health.uptime_advances",  # the hard-coded '0h 0m 0s'
}


async def test_guide_miner_passes_with_warnings(guide_miner: str) -> None:
    report = await check_miner(guide_miner, timeout=10, requests=2)

    assert report.reachable
    assert report.ok, [r for r in report.failures]
    assert {r.name for r in report.warnings} == EXPECTED_WARNINGS
    assert report.latency_samples == 2
    assert report.latency_p50_ms is not None and report.latency_p95_ms is not None


async def test_guide_miner_warnings_say_why(guide_miner: str) -> None:
    report = await check_miner(guide_miner, timeout=10, requests=1)

    uptime = report.result("health.uptime_advances")
    assert uptime is not None and uptime.status is CheckStatus.WARN
    assert uptime.reason.startswith("uptime stayed '0h 0m 0s' over ")
    malformed = report.result("errors.malformed_json")
    assert malformed is not None
    assert malformed.reason.startswith("a body that is not JSON: HTTP 500; expected a 4xx")
    unknown = report.result("errors.unknown_model_type")
    assert unknown is not None
    assert 'the error body is not JSON {"error": "..."}: HTTP 404 <!doctype html>' in unknown.reason
    answer = report.result("chat.answer")
    assert answer is not None and answer.status is CheckStatus.PASS


def test_cli_guide_miner_exits_zero(guide_miner: str) -> None:
    proc = subprocess.run(
        [str(TENSORNODE), "miner", "check", guide_miner, "--requests", "2", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert report["url"] == guide_miner
    statuses = {r["name"]: r["status"] for r in report["results"]}
    assert statuses["health.uptime_advances"] == "warn"
    assert statuses["chat.answer"] == "pass"
