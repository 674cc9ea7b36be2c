"""A tiny miner that keeps the miner API with the standard library only.

It runs where nothing else is installed: in a container built from a bare Debian image,
or as the ``builtin`` runtime's command in tests (it accepts and ignores
``miner serve --model ...``). Port and host come from ``--port``/``--host`` or the
``PORT``/``HOST`` environment variables (the docker runtime sets ``PORT``). Each request
is logged to stdout, so tests can see the logs captured.

Run: ``PORT=3000 python3 tests/miners/stdlib_miner.py``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

STARTED = time.monotonic()
NAME = os.environ.get("MINER_NAME", "stdlib-echo")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            up = int(time.monotonic() - STARTED)
            uptime = f"{up // 3600}h {up // 60 % 60}m {up % 60}s"
            self._send(200, {"status": "healthy", "model_loaded": True, "uptime": uptime})
        elif self.path == "/info":
            self._send(
                200,
                {
                    "model_name": NAME,
                    "model_type": "llm",
                    "version": "1.0.0",
                    "capabilities": ["text-generation"],
                    "max_context_length": 1024,
                },
            )
        else:
            self._send(404, {"error": "Not found"})

    def do_POST(self) -> None:
        if self.path != "/api/chat":
            self._send(404, {"error": "Not found"})
            return
        started = time.monotonic()
        try:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            prompt = body["prompt"]
            max_tokens = int(body.get("max_tokens", 100))
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": f"bad request: {exc}"})
            return
        answer = " ".join(str(prompt).split()[:max_tokens])
        self._send(
            200,
            {
                "response": f"echo: {answer}",
                "model": NAME,
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "processing_time": round(time.monotonic() - started, 4),
            },
        )

    def log_message(self, format: str, *args: Any) -> None:
        print(f"stdlib-miner: {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    args, ignored = parser.parse_known_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print(f"stdlib-miner: listening on {args.host}:{args.port} (ignored: {ignored})", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
