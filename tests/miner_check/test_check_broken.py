"""A server that breaks the contract fails ``miner check``, naming the check and why."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import httpx
import pytest
from typer.testing import CliRunner

from tensornode.cli.main import app
from tensornode.contracts.miner_check import CheckReport, CheckStatus
from tensornode.miner.check import check_miner

from .servers import TENSORNODE, free_port

BREAKS = [
    (
        "no-info",
        "info",
        'expected HTTP 200 with a JSON object, got HTTP 404 {"error": "Not found"}',
    ),
    (
        "info-types",
        "info.fields",
        "'capabilities' is a string, expected a list of strings; "
        "'max_context_length' is a string, expected an integer",
    ),
    (
        "health-not-json",
        "health",
        "expected a JSON object, got a body that is not JSON: HTTP 200 OK",
    ),
    (
        "health-fields",
        "health.fields",
        "'model_loaded' is a string, expected a boolean; missing 'uptime'",
    ),
    (
        "unhealthy",
        "health.healthy",
        "status 'loading', model_loaded false; a miner must be healthy to serve",
    ),
    (
        "chat-500",
        "chat",
        'expected HTTP 200 with a JSON object, got HTTP 500 {"error": "model crashed"}',
    ),
    (
        "no-response",
        "chat.answer",
        "no answer: none of response, text, message, answer, output holds a string",
    ),
    ("response-type", "chat.answer", "'response' is an integer, expected a string"),
    ("chat-fields", "chat.fields", "'model' is null, expected a string; missing 'processing_time'"),
    (
        "no-defaults",
        "chat.defaults",
        "a body with only 'prompt' (temperature and max_tokens default): "
        'HTTP 400 {"error": "temperature and max_tokens are required"}',
    ),
    (
        "crash-on-bad-input",
        "errors.malformed_json",
        "a body that is not JSON: RemoteProtocolError: Server disconnected without sending "
        "a response. (the miner must answer bad input with an error)",
    ),
    (
        "huge-info",
        "info",
        "expected HTTP 200 with a JSON object, got an answer larger than 1048576 bytes",
    ),
]


WARNINGS = [
    ("old-key", "chat.answer", "answer under 'text', not 'response' (validators tolerate it)"),
    (
        "ms-processing-time",
        "chat.processing_time",
        "processing_time 5000 s exceeds the ",
    ),
    (
        "bad-timestamp",
        "chat.timestamp",
        "timestamp 'yesterday' is not ISO 8601 like 2024-01-15T10:30:00Z",
    ),
    ("bad-usage", "chat.usage", "usage: total_tokens 18 is not 9 + 8"),
    ("uptime-words", "health.uptime", "uptime 'up a while' is not like '2h 15m 30s'"),
    ("uptime-fast", "health.uptime_advances", "uptime jumped "),
    (
        "info-odd",
        "info.values",
        "model_type 'oracle' is not one of llm, vision, speech, translation; capabilities is empty",
    ),
]


@pytest.fixture(scope="module")
def reports(broken_miner: str) -> dict[str, CheckReport]:
    """One report per way to break, checked side by side (each run waits for uptime)."""

    async def check_all() -> list[CheckReport]:
        urls = [f"{broken_miner}/b/{name}" for name, _, _ in BREAKS + WARNINGS]
        return await asyncio.gather(*(check_miner(u, timeout=10, requests=1) for u in urls))

    return {r.url.rsplit("/", 1)[1]: r for r in asyncio.run(check_all())}


@pytest.mark.parametrize(("breaks", "check", "reason"), BREAKS, ids=[b[0] for b in BREAKS])
def test_broken_miner_fails_naming_the_check(
    reports: dict[str, CheckReport], breaks: str, check: str, reason: str
) -> None:
    report = reports[breaks]

    assert report.reachable
    assert not report.ok
    result = report.result(check)
    assert result is not None and result.status is CheckStatus.FAIL
    assert result.reason == reason


async def test_good_miner_passes_without_warnings(broken_miner: str) -> None:
    report = await check_miner(f"{broken_miner}/b/ok", timeout=10, requests=3, model_type="llm")

    assert report.ok
    assert [r for r in report.results if r.status is not CheckStatus.PASS] == []
    assert report.result("chat/llm.answer") is not None
    assert report.latency_samples == 3


@pytest.mark.parametrize(("breaks", "check", "reason"), WARNINGS, ids=[w[0] for w in WARNINGS])
def test_what_a_good_miner_does_better_is_a_warning(
    reports: dict[str, CheckReport], breaks: str, check: str, reason: str
) -> None:
    report = reports[breaks]

    assert report.ok
    result = report.result(check)
    assert result is not None and result.status is CheckStatus.WARN
    assert result.reason.startswith(reason)


async def test_html_errors_are_warnings(broken_miner: str) -> None:
    report = await check_miner(f"{broken_miner}/b/html-errors", timeout=10, requests=1)

    assert report.ok
    assert {r.name for r in report.warnings} == {
        "errors.malformed_json",
        "errors.missing_prompt",
        "errors.prompt_type",
        "errors.max_tokens_type",
        "errors.max_tokens_range",
        "errors.unknown_model_type",
    }
    result = report.result("errors.missing_prompt")
    assert result is not None
    assert result.reason.startswith(
        "a body without 'prompt': HTTP 500; expected a 4xx; "
        'the error body is not JSON {"error": "..."}: HTTP 500 <html>'
    )


async def test_a_miner_slower_than_the_timeout_fails(broken_miner: str) -> None:
    report = await check_miner(f"{broken_miner}/b/slow", timeout=1, requests=1)

    assert not report.ok
    chat = report.result("chat")
    assert chat is not None and chat.status is CheckStatus.FAIL
    assert chat.reason == "expected HTTP 200 with a JSON object, got no answer within 1 s"


async def test_unknown_model_type_asked_for_fails(broken_miner: str) -> None:
    report = await check_miner(f"{broken_miner}/b/ok", timeout=10, requests=1, model_type="vision")

    result = report.result("chat/vision")
    assert result is not None and result.status is CheckStatus.FAIL
    assert result.reason == (
        'expected HTTP 200 with a JSON object, got HTTP 404 {"error": "Model not available"}'
    )


async def test_unreachable_miner_is_one_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    report = await check_miner(url, timeout=2)

    assert not report.reachable and not report.ok
    assert [r.name for r in report.results] == ["reachable"]
    assert report.results[0].reason.startswith(f"cannot connect to {url}: ConnectError")


async def test_an_injected_client_is_used_and_left_open(broken_miner: str) -> None:
    async with httpx.AsyncClient() as client:
        report = await check_miner(f"{broken_miner}/b/no-info/", client=client, requests=1)
        assert not client.is_closed
    assert report.url == f"{broken_miner}/b/no-info"
    assert [r.name for r in report.failures] == ["info"]


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TENSORNODE), "miner", "check", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_cli_names_the_failing_check_and_exits_1(broken_miner: str) -> None:
    proc = _run_cli(f"{broken_miner}/b/info-types", "--requests", "1")

    assert proc.returncode == 1
    row = next(line for line in proc.stdout.splitlines() if "info.fields" in line)
    assert "fail" in row and "'max_context_length' is a string, expected an integer" in row
    assert "the miner breaks the contract: info.fields" in proc.stdout


def test_cli_json_is_parseable(broken_miner: str) -> None:
    proc = _run_cli(f"{broken_miner}/b/no-info+unhealthy", "--json", "-n", "1")

    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["ok"] is False and report["reachable"] is True
    failed = [r["name"] for r in report["results"] if r["status"] == "fail"]
    assert failed == ["health.healthy", "info", "health.recheck"]


def test_cli_unreachable_is_one_line() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["miner", "check", url, "--timeout", "2"])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: cannot connect to {url}: ConnectError: All connection attempts failed\n"
    )


def test_cli_rejects_a_url_without_scheme() -> None:
    result = CliRunner().invoke(app, ["miner", "check", "localhost:3000", "--timeout", "2"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot connect to localhost:3000: UnsupportedProtocol")
    assert result.stderr.count("\n") == 1
