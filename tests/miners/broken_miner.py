"""A real miner server that keeps the contract, or breaks it in selectable ways.

Each way to break is chosen by a path prefix, so one process serves them all:
``http://127.0.0.1:PORT/b/no-info`` is a miner without ``/info``;
``http://127.0.0.1:PORT/b/ok`` (or the bare root) keeps the whole contract and does what
a good miner should (4xx JSON errors, real uptime, usage). Several breaks combine with
``+``: ``/b/no-info+unhealthy``. Standard library only, so it can break HTTP itself.

Run: ``python tests/miners/broken_miner.py --port 3007``
"""

from __future__ import annotations

import argparse
import json
import socket
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BREAKS = {
    "ok": "keeps the contract",
    "no-info": "/info is 404",
    "info-types": "/info has max_context_length as a string and capabilities as a string",
    "health-not-json": "/health answers text/plain 'OK'",
    "health-fields": "/health has model_loaded 'yes' and no uptime",
    "unhealthy": "/health says status 'loading', model_loaded false",
    "chat-500": "/api/chat always answers 500",
    "no-response": "/api/chat answers without any answer key",
    "response-type": "/api/chat has response 42",
    "chat-fields": "/api/chat lacks processing_time and has model null",
    "old-key": "/api/chat puts the answer under 'text' (tolerated: a warning)",
    "no-defaults": "/api/chat refuses a body without temperature and max_tokens",
    "crash-on-bad-input": "/api/chat drops the connection on a body that is not JSON",
    "html-errors": "errors are 500 text/html pages (warnings only)",
    "huge-info": "/info answers 2 MiB",
    "ms-processing-time": "processing_time in milliseconds (a warning)",
    "bad-timestamp": "timestamp 'yesterday' (a warning)",
    "bad-usage": "usage total_tokens not the sum (a warning)",
    "uptime-words": "uptime 'up a while' (a warning)",
    "uptime-fast": "uptime runs 100 times too fast (a warning)",
    "info-odd": "model_type 'oracle', empty capabilities (a warning)",
    "slow": "/api/chat waits 3 s before answering a valid request",
}

STARTED = time.monotonic()
MAX_CONTEXT = 2048


def _uptime(scale: float = 1.0) -> str:
    s = int((time.monotonic() - STARTED) * scale)
    return f"{s // 3600}h {s % 3600 // 60}m {s % 60}s"


class ChatError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _validate(data: Any, breaks: set[str]) -> tuple[str, int, float]:
    if not isinstance(data, dict):
        raise ChatError(400, "body must be a JSON object")
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ChatError(400, "prompt must be a non-empty string")
    if "no-defaults" in breaks and ("temperature" not in data or "max_tokens" not in data):
        raise ChatError(400, "temperature and max_tokens are required")
    max_tokens = data.get("max_tokens", 100)
    temperature = data.get("temperature", 0.7)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise ChatError(400, "max_tokens must be a positive integer")
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        raise ChatError(400, "temperature must be a number in [0, 2]")
    return prompt, max_tokens, float(temperature)


def _answer(prompt: str, max_tokens: int, breaks: set[str], started: float) -> dict[str, Any]:
    words = prompt.split()
    answer = " ".join(words[i % len(words)] for i in range(min(max_tokens, 8)))
    completion = min(max_tokens, 8)
    body: dict[str, Any] = {
        "response": answer,
        "model": "broken-miner",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "processing_time": round(time.monotonic() - started, 4),
        "usage": {
            "prompt_tokens": len(words),
            "completion_tokens": completion,
            "total_tokens": len(words) + completion,
        },
    }
    if "no-response" in breaks:
        body["result"] = body.pop("response")
    if "response-type" in breaks:
        body["response"] = 42
    if "old-key" in breaks:
        body["text"] = body.pop("response")
    if "ms-processing-time" in breaks:
        body["processing_time"] = 5000
    if "bad-timestamp" in breaks:
        body["timestamp"] = "yesterday"
    if "bad-usage" in breaks:
        body["usage"]["total_tokens"] += 1
    if "chat-fields" in breaks:
        del body["processing_time"]
        body["model"] = None
    return body


class Handler(BaseHTTPRequestHandler):
    server_version = "BrokenMiner/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read results, not access logs."""

    def _route(self) -> tuple[set[str], str]:
        path = self.path.split("?", 1)[0]
        if path.startswith("/b/"):
            _, _, rest = path.partition("/b/")
            name, _, tail = rest.partition("/")
            return set(name.split("+")), "/" + tail
        return {"ok"}, path

    def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str, breaks: set[str]) -> None:
        if "html-errors" in breaks:
            page = f"<html><body><h1>Error</h1><p>{message}</p></body></html>".encode()
            self._send(500, page, "text/html")
        else:
            self._send(status, {"error": message})

    def do_GET(self) -> None:
        breaks, path = self._route()
        if path == "/health":
            self._health(breaks)
        elif path == "/info" and "no-info" not in breaks:
            self._info(breaks)
        else:
            self._error(404, "Not found", breaks)

    def _health(self, breaks: set[str]) -> None:
        if "health-not-json" in breaks:
            self._send(200, b"OK", "text/plain")
            return
        scale = 100.0 if "uptime-fast" in breaks else 1.0
        body: dict[str, Any] = {"status": "healthy", "model_loaded": True, "uptime": _uptime(scale)}
        if "health-fields" in breaks:
            body["model_loaded"] = "yes"
            del body["uptime"]
        if "uptime-words" in breaks:
            body["uptime"] = "up a while"
        if "unhealthy" in breaks:
            body.update(status="loading", model_loaded=False)
        self._send(200, body)

    def _info(self, breaks: set[str]) -> None:
        if "huge-info" in breaks:
            self._send(200, b"[" + b"0," * (1 << 20) + b"0]")
            return
        body: dict[str, Any] = {
            "model_name": "broken-miner",
            "model_type": "llm",
            "version": "1.0.0",
            "capabilities": ["text-generation", "qa"],
            "max_context_length": MAX_CONTEXT,
        }
        if "info-odd" in breaks:
            body.update(model_type="oracle", capabilities=[])
        if "info-types" in breaks:
            body.update(max_context_length=str(MAX_CONTEXT), capabilities="text-generation")
        self._send(200, body)

    def do_POST(self) -> None:
        breaks, path = self._route()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/api/chat/") and path != "/api/chat/llm":
            self._error(404, "Model not available", breaks)
        elif path in ("/api/chat", "/api/chat/llm"):
            self._chat(raw, breaks)
        else:
            self._error(404, "Not found", breaks)

    def _chat(self, raw: bytes, breaks: set[str]) -> None:
        started = time.monotonic()
        if "chat-500" in breaks:
            self._error(500, "model crashed", breaks)
            return
        try:
            data = json.loads(raw)
        except ValueError:
            if "crash-on-bad-input" in breaks:
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self._error(400, "body is not JSON", breaks)
            return
        try:
            prompt, max_tokens, _ = _validate(data, breaks)
        except ChatError as exc:
            self._error(exc.status, str(exc), breaks)
            return
        if "slow" in breaks:
            time.sleep(3)
        self._send(200, _answer(prompt, max_tokens, breaks, started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
