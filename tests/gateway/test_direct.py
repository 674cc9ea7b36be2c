"""The chat endpoints as direct routes of the coordinator's HTTP protocol (direct.py)
answer exactly as the raw ASGI fast path does, errors included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopback import ThreadedServer
from tensornode.coordinator.app import build_app
from tensornode.gateway.direct import GatewayDirect

from .chat_miner import serve_chat_miner
from .conftest import client_for, gateway_settings, running, seed_miners

BIG = {"prompt": "x" * 3000}
CASES: list[tuple[str, dict[str, Any] | bytes, dict[str, str]]] = [
    ("/api/chat", {"prompt": "one two three"}, {}),
    ("/api/chat/llm", {"prompt": "typed", "max_tokens": 4}, {}),
    ("/api/chat/no-such-type", {"prompt": "x"}, {}),
    ("/api/chat", b"{not json", {}),
    ("/api/chat", {"prompt": ""}, {}),
    ("/api/chat", {"prompt": "x", "max_tokens": 10**6}, {}),
    ("/api/chat", BIG, {}),
    ("/api/chat", {"prompt": "x"}, {"Authorization": "Bearer tng_not-a-real-key"}),
    ("/v1/chat/completions", {"model": "llm", "messages": [{"role": "user", "content": "hi"}]}, {}),
    ("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "a"}]}, {}),
    ("/v1/chat/completions", {"model": "llm", "messages": []}, {}),
    ("/v1/chat/completions", BIG, {}),
    (
        "/v1/chat/completions",
        {"model": "llm", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        {},
    ),
]
VOLATILE = {"timestamp", "processing_time", "id", "created"}


def comparable(resp: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, content type and body, without what differs between any two requests."""
    media = resp.headers.get("content-type")
    if media == "text/event-stream":
        events = [line for line in resp.text.splitlines() if line.startswith("data: ")]
        body: Any = [
            line if line == "data: [DONE]" else _stable(json.loads(line[6:])) for line in events
        ]
    else:
        body = _stable(resp.json())
    return resp.status_code, media, body


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def _send(http: httpx.AsyncClient, path: str, body: Any, headers: dict[str, str]) -> Any:
    if isinstance(body, bytes):
        resp = await http.post(path, content=body, headers=headers)
    else:
        resp = await http.post(path, json=body, headers=headers)
    return resp


async def test_direct_routes_answer_as_the_asgi_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served_direct: list[bytes] = []
    incoming = GatewayDirect._incoming

    def counting(self: GatewayDirect, request: Any) -> Any:
        served_direct.append(request.url)
        return incoming(self, request)

    monkeypatch.setattr(GatewayDirect, "_incoming", counting)
    settings = gateway_settings(tmp_path, max_body_bytes=2048, max_tokens=4096)
    async with serve_chat_miner("echo") as miner:
        await seed_miners(settings, [miner.endpoint])
        async with running(settings) as app, client_for(app) as asgi:
            expected = [comparable(await _send(asgi, *case)) for case in CASES]
        assert served_direct == []  # in-process: the ASGI fast path
        async with (
            ThreadedServer(build_app(settings)) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            answers = [await _send(http, *case) for case in CASES]
    assert len(served_direct) == len(CASES)  # over loopback: every one answered directly
    assert [comparable(a) for a in answers] == expected
    statuses = [status for status, _, _ in expected]
    assert statuses == [200, 200, 404, 400, 422, 422, 413, 401, 200, 404, 400, 413, 200]
    for answer in answers:
        assert "date" in answer.headers
        if answer.status_code == 200:
            assert answer.headers["x-tensornode-miner-id"]
            assert float(answer.headers["x-tensornode-overhead-ms"]) >= 0.0
