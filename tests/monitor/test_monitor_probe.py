"""Health probes against a real HTTP server on loopback."""

from __future__ import annotations

import socket

import httpx
import pytest

from tensornode.monitor.probe import judge_health, probe_health

from .scripted_miner import ScriptedMiner


async def test_a_healthy_miner_passes(scripted_miner: ScriptedMiner) -> None:
    async with httpx.AsyncClient() as client:
        result = await probe_health(client, scripted_miner.endpoint, timeout=5)
    assert result.ok
    assert result.result == "ok"
    assert result.status_code == 200
    assert result.error is None


async def test_a_5xx_fails_with_its_status(scripted_miner: ScriptedMiner) -> None:
    scripted_miner.failing(503)
    async with httpx.AsyncClient() as client:
        result = await probe_health(client, scripted_miner.endpoint + "/", timeout=5)
    assert not result.ok
    assert result.result == "unhealthy"
    assert result.error == "/health answered 503"


async def test_a_slow_miner_times_out(scripted_miner: ScriptedMiner) -> None:
    scripted_miner.delay_s = 1
    async with httpx.AsyncClient() as client:
        result = await probe_health(client, scripted_miner.endpoint, timeout=0.2)
    assert not result.ok
    assert result.result == "timeout"
    assert result.error == "timed out after 0.2s"


async def test_a_closed_port_is_unreachable() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    async with httpx.AsyncClient() as client:
        result = await probe_health(client, f"http://127.0.0.1:{port}", timeout=2)
    assert result.result == "unreachable"
    assert result.error is not None
    assert result.error.startswith(f"cannot reach http://127.0.0.1:{port}/health")


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, {"status": "healthy", "model_loaded": True, "uptime": "1s"}, None),
        (200, {"status": "Healthy"}, None),
        (200, {"status": "loading"}, "/health status is 'loading', not 'healthy'"),
        (200, {"status": "healthy", "model_loaded": False}, "/health says the model is not loaded"),
        (200, ["healthy"], "/health did not answer a JSON object"),
        (200, None, "/health did not answer a JSON object"),
        (404, {"error": "not found"}, "/health answered 404"),
    ],
)
def test_judge_health_follows_the_miner_contract(
    status: int, body: object, reason: str | None
) -> None:
    assert judge_health(status, body) == reason
