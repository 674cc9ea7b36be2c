"""What the gateway adds to a streamed answer: direct to a miner vs through the coordinator
(vs through LiteLLM's proxy), side by side in one run.

    .venv/bin/python bench/gateway_streaming.py                       # 1 and 64 streams
    .venv/bin/python bench/gateway_streaming.py --litellm /tmp/litellm-venv/bin/litellm

Processes on loopback: a streaming miner (a raw ASGI app on uvicorn that sends a token
every ``--token-ms`` ms, 20 by default, like a real model; the miner API's events on
``/api/chat`` and OpenAI's chunks on ``/v1/chat/completions``), a real coordinator
(``tensornode coordinator --dev``, validator loop and epoch scheduler off, no rate limit)
with the miner registered through ``POST /miners`` (``miner check`` included), LiteLLM's
proxy in front of the same miner when ``--litellm`` (or ``$LITELLM_BIN``) names its
command (it lives in its own virtual environment; never a dependency of ours), and this
process as the client (a lean HTTP/1.1 streaming client on uvloop, the same for every
target). Targets:

- ``direct``: the miner's ``/v1/chat/completions``;
- ``gateway``: the coordinator's ``/v1/chat/completions`` (it streams from the miner's
  ``/api/chat`` and turns each event into an OpenAI chunk);
- ``litellm``: the proxy's ``/v1/chat/completions`` (it calls the miner's ``/v1``).

For each concurrency (``--concurrency``, default 1 and 64) and way of arriving
(``--arrivals``: ``steady``, the clients' first streams spread over one stream's length
so that streams start and end all the time, as ``c`` concurrent users do; ``burst``, all
``c`` clients starting at the same instant, a thundering herd every stream's length), the
targets run in alternating slices (``direct, gateway, litellm, litellm, gateway,
direct``, ``--rounds`` times) so drift in the machine's other load weighs on all alike;
each slice runs ``--streams`` streams per client (by default 32 for a lone client, so
its percentiles rest on 64 streams per target, and 8 for each of 64). A client sends
its next request when the last one's body has ended, as an HTTP client must. Per
stream: the time to the first token (request sent to the first content chunk
received) and the gaps between tokens.
Reported per target:
time to first token p50/p99, added (target minus direct) at p50 and p99, inter-token gap
p50/p99 and jitter (standard deviation of the gaps), added jitter, and the proxy's CPU
time per stream (from /proc, over its slices).

Prints a table and writes JSON to ``bench/results/gateway_streaming-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import pstdev, quantiles
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WALLET = "0.0.424242"
TOKEN = b"Qx7"
END_OF_BODY = b"0\r\n\r\n"
"""The last chunk of a chunked body (every target streams chunked)."""
API_KEY = "sk-bench-" + "5e3c" * 12
"""Sent to every target: LiteLLM's master key (the gateway in dev mode and the miner
ignore a bearer that is not theirs)."""
CONTENT = {"content": "Qx7 "}
RESPONSE = {"response": "Qx7 "}


# -- the streaming miner --------------------------------------------------------------


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _openai_chunk(delta: dict[str, str], finish: str | None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _sse(
        {"id": "b", "object": "chat.completion.chunk", "created": 0, "model": "llm",
         "choices": [choice]}
    )  # fmt: skip


async def _body(receive: Any) -> dict[str, Any]:
    raw, more = b"", True
    while more:
        message = await receive()
        raw += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def _send_json(send: Any, status: int, data: object) -> None:
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def miner_app(token_s: float) -> Any:
    """A miner that streams a token every ``token_s`` (max_tokens of them)."""
    started = time.monotonic()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        path, method = scope["path"], scope["method"]
        body = await _body(receive) if method == "POST" else {}
        if path == "/health":
            up = int(time.monotonic() - started)
            uptime = f"{up // 3600}h {up // 60 % 60}m {up % 60}s"
            await _send_json(
                send, 200, {"status": "healthy", "model_loaded": True, "uptime": uptime}
            )
            return
        if path == "/info":
            await _send_json(send, 200, {
                "model_name": "bench-stream", "model_type": "llm", "version": "1.0.0",
                "capabilities": ["text-generation"], "max_context_length": 4096,
                "max_concurrency": 1024, "models": ["llm"],
            })  # fmt: skip
            return
        if method != "POST" or path not in ("/api/chat", "/v1/chat/completions"):
            await _send_json(send, 404, {"error": "Model not available"})
            return
        prompt = body.get("prompt") or body.get("messages")
        max_tokens = body.get("max_tokens", 16)
        if not prompt or not isinstance(max_tokens, int) or max_tokens < 1:
            await _send_json(send, 422, {"error": "prompt: prompt must not be empty"})
            return
        openai = path.startswith("/v1")
        if not body.get("stream"):
            text = " ".join(["Qx7"] * max_tokens)
            if openai:
                choice = {"index": 0, "finish_reason": "length",
                          "message": {"role": "assistant", "content": text}}  # fmt: skip
                await _send_json(
                    send, 200, {"object": "chat.completion", "model": "llm", "choices": [choice]}
                )
            else:
                await _send_json(send, 200, {
                    "response": text, "model": "bench-stream",
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "processing_time": 0.001,
                    "usage": {"prompt_tokens": 4, "completion_tokens": max_tokens,
                              "total_tokens": 4 + max_tokens},
                })  # fmt: skip
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if openai:
            role = _openai_chunk({"role": "assistant"}, None)
            await send({"type": "http.response.body", "body": role, "more_body": True})
        for _ in range(max_tokens):
            await asyncio.sleep(token_s)
            piece = (
                _openai_chunk({"content": "Qx7 "}, None) if openai else _sse({"response": "Qx7 "})
            )
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        usage = {
            "prompt_tokens": 4,
            "completion_tokens": max_tokens,
            "total_tokens": 4 + max_tokens,
        }
        if openai:
            end = _openai_chunk({}, "length") + b"data: [DONE]\n\n"
        else:
            end = _sse({"response": "", "done": True, "usage": usage, "finish_reason": "length"})
            end += b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": end})

    return app


def serve_miner(port: int, token_ms: float) -> None:
    import uvicorn

    uvicorn.run(
        miner_app(token_ms / 1000.0), host="127.0.0.1", port=port, loop="uvloop",
        http="httptools", lifespan="off", access_log=False, log_level="warning",
    )  # fmt: skip


# -- a lean streaming client ----------------------------------------------------------


class StreamConnection(asyncio.Protocol):
    """One connection; ``stream`` sends a request and timestamps each token chunk."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.times: list[float] = []
        self.done: asyncio.Future[None] | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        tokens = self.buffer.count(TOKEN)
        # each token arrives in its own write; count those in this read
        self.times += [now] * (tokens - len(self.times))
        # the stream is over when its chunked body has ended (after [DONE]): as an HTTP
        # client, the next request on this connection goes out only then
        ended = b"[DONE]" in self.buffer and self.buffer.endswith(END_OF_BODY)
        if ended and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError("connection lost"))

    async def stream(self, raw: bytes) -> tuple[float, list[float]]:
        assert self.transport is not None
        self.times, self.buffer = [], b""
        self.done = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        self.transport.write(raw)
        await self.done
        return sent, self.times


def request(port: int, path: str, tokens: int) -> bytes:
    body = json.dumps({
        "model": "llm", "messages": [{"role": "user", "content": "count"}],
        "max_tokens": tokens, "stream": True,
    }).encode()  # fmt: skip
    return (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
        % (path.encode(), port, API_KEY.encode(), len(body), body)
    )


@dataclass
class Samples:
    """First-token times (s), inter-token gaps (s), streams and errors of a target."""

    ttft: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)
    streams: int = 0
    errors: int = 0
    cpu_s: float = 0.0


async def _client(
    port: int, path: str, tokens: int, streams: int, into: Samples, delay: float = 0.0
) -> None:
    await asyncio.sleep(delay)
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(StreamConnection, "127.0.0.1", port)
    raw = request(port, path, tokens)
    try:
        for _ in range(streams):
            try:
                sent, times = await conn.stream(raw)
            except ConnectionError:
                into.errors += 1
                _, conn = await loop.create_connection(StreamConnection, "127.0.0.1", port)
                continue
            if len(times) < tokens:
                into.errors += 1
                continue
            into.streams += 1
            into.ttft.append(times[0] - sent)
            into.gaps += [b - a for a, b in itertools.pairwise(times)]
    finally:
        assert conn.transport is not None
        conn.transport.close()


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port} within {seconds}s")


def start_processes(
    data_dir: str, args: argparse.Namespace
) -> tuple[dict[str, subprocess.Popen[bytes]], dict[str, int]]:

    ports = {"direct": free_port(), "gateway": free_port()}
    procs = {
        "direct": subprocess.Popen([sys.executable, __file__, "--serve-miner",
                                    str(ports["direct"]), "--token-ms", str(args.token_ms)]),
    }  # fmt: skip
    env = {
        **os.environ,
        "TENSORNODE_DATA_DIR": data_dir,
        "TENSORNODE_LOG_LEVEL": "WARNING",
        "TENSORNODE_GATEWAY__RATE_LIMIT_PER_MIN": "1e9",
        "TENSORNODE_VALIDATOR__IN_PROCESS": "false",
        "TENSORNODE_REWARDS__SCHEDULER": "false",
        "TENSORNODE_MONITOR__ENABLED": "false",
    }
    procs["gateway"] = subprocess.Popen(
        [sys.executable, "-m", "tensornode.cli.main", "coordinator", "--dev",
         "--port", str(ports["gateway"])],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    if args.litellm:
        ports["litellm"] = free_port()
        config = Path(data_dir) / "litellm.yaml"
        config.write_text(
            "model_list:\n  - model_name: llm\n    litellm_params:\n"
            f"      model: openai/llm\n      api_base: http://127.0.0.1:{ports['direct']}/v1\n"
            "      api_key: none\n"
        )
        procs["litellm"] = subprocess.Popen(
            [args.litellm, "--config", str(config), "--port", str(ports["litellm"]),
             "--host", "127.0.0.1", "--num_workers", "1"],
            env={**os.environ, "LITELLM_LOG": "ERROR", "LITELLM_MASTER_KEY": API_KEY},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        register(procs, ports)
    except BaseException:
        stop(procs)
        raise
    return procs, ports


def register(procs: dict[str, subprocess.Popen[bytes]], ports: dict[str, int]) -> None:
    """Wait for every process to answer, then register the miner with the coordinator."""
    import httpx

    for name, proc in procs.items():
        wait_http(ports[name], "/health" if name != "litellm" else "/health/liveliness", proc)
    base = f"http://127.0.0.1:{ports['gateway']}"
    resp = httpx.post(
        f"{base}/miners",
        json={"endpoint": f"http://127.0.0.1:{ports['direct']}", "name": "bench-stream"},
        headers={"X-Wallet-Address": WALLET},
        timeout=120,
    )
    if resp.status_code != 201:
        raise SystemExit(f"registering the miner failed: {resp.status_code} {resp.text}")
    for _ in range(100):
        if httpx.get(f"{base}/gateway/status").json()["miners"]:
            break
        time.sleep(0.1)


def stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        proc.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


# -- the benchmark --------------------------------------------------------------------


def streams_per_client(args: argparse.Namespace, concurrency: int) -> int:
    """``--streams``, or enough for a lone client's percentiles to mean something."""
    return int(args.streams or max(8, 32 // concurrency))


def order(targets: list[str], rounds: int) -> list[str]:
    return (targets + targets[::-1]) * rounds


Load = tuple[int, str]
"""(concurrency, arrivals)."""


async def measure(
    ports: dict[str, int], pids: dict[str, int], args: argparse.Namespace
) -> dict[Load, dict[str, Samples]]:
    targets = list(ports)
    results: dict[Load, dict[str, Samples]] = {}
    stream_s = args.tokens * args.token_ms / 1000.0
    for name in targets:  # warm-up: connections, caches, the first JIT-less paths
        await _client(ports[name], "/v1/chat/completions", args.tokens, 2, Samples())
    for concurrency in args.concurrency:
        for arrivals in args.arrivals if concurrency > 1 else ["steady"]:
            spread = stream_s / concurrency if arrivals == "steady" else 0.0
            per = {name: Samples() for name in targets}
            for name in order(targets, args.rounds):
                cpu_before = cpu_seconds(pids[name])
                await asyncio.gather(*(
                    _client(ports[name], "/v1/chat/completions", args.tokens,
                            streams_per_client(args, concurrency), per[name], delay=i * spread)
                    for i in range(concurrency)
                ))  # fmt: skip
                per[name].cpu_s += cpu_seconds(pids[name]) - cpu_before
            results[(concurrency, arrivals)] = per
    return results


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return quantiles(values, n=100, method="inclusive")[q - 1]


def summary(samples: Samples, direct: Samples) -> dict[str, float]:
    ms = 1000.0
    out = {
        "streams": samples.streams,
        "errors": samples.errors,
        "ttft_p50_ms": pct(samples.ttft, 50) * ms,
        "ttft_p99_ms": pct(samples.ttft, 99) * ms,
        "gap_p50_ms": pct(samples.gaps, 50) * ms,
        "gap_p99_ms": pct(samples.gaps, 99) * ms,
        "jitter_ms": pstdev(samples.gaps) * ms if len(samples.gaps) > 1 else 0.0,
        "cpu_ms_per_stream": samples.cpu_s / max(1, samples.streams) * ms,
    }
    base_jitter = pstdev(direct.gaps) * ms if len(direct.gaps) > 1 else 0.0
    out["added_ttft_p50_ms"] = out["ttft_p50_ms"] - pct(direct.ttft, 50) * ms
    out["added_ttft_p99_ms"] = out["ttft_p99_ms"] - pct(direct.ttft, 99) * ms
    out["added_jitter_ms"] = out["jitter_ms"] - base_jitter
    return out


def report(args: argparse.Namespace, results: dict[Load, dict[str, Samples]]) -> None:
    rows: list[dict[str, Any]] = []
    print(
        f"{'conc':>4} {'arrive':<6} {'target':<8} {'streams':>7} {'err':>3} "
        f"{'TTFT p50':>9} {'p99':>7} "
        f"{'+p50':>7} {'+p99':>7} {'gap p50':>8} {'p99':>7} {'jitter':>7} {'+jit':>6} "
        f"{'CPU/stream':>10}"
    )
    for (concurrency, arrivals), per in results.items():
        for name, samples in per.items():
            s = summary(samples, per["direct"])
            rows.append({"concurrency": concurrency, "arrivals": arrivals, "target": name, **s})
            print(
                f"{concurrency:>4} {arrivals:<6} {name:<8} {s['streams']:>7} {s['errors']:>3} "
                f"{s['ttft_p50_ms']:>7.2f}ms {s['ttft_p99_ms']:>5.2f}ms "
                f"{s['added_ttft_p50_ms']:>5.2f}ms {s['added_ttft_p99_ms']:>5.2f}ms "
                f"{s['gap_p50_ms']:>6.2f}ms {s['gap_p99_ms']:>5.2f}ms {s['jitter_ms']:>5.2f}ms "
                f"{s['added_jitter_ms']:>4.2f}ms {s['cpu_ms_per_stream']:>8.2f}ms"
            )
    print("CPU/stream: the target process's CPU time over its slices / streams (direct: the miner)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"gateway_streaming-{stamp}.json"
    out.write_text(json.dumps({
        "benchmark": "gateway_streaming",
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"token_ms": args.token_ms, "tokens": args.tokens,
                     "streams_per_client": {c: streams_per_client(args, c)
                                            for c in args.concurrency},
                     "rounds": args.rounds, "concurrency": args.concurrency,
                     "arrivals": args.arrivals,
                     "litellm": bool(args.litellm)},
        "rows": rows,
    }, indent=2))  # fmt: skip
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--tokens", type=int, default=25, help="tokens per stream")
    parser.add_argument("--token-ms", type=float, default=20.0, help="the miner's token pace")
    parser.add_argument(
        "--streams", type=int, default=None,
        help="streams per client per slice (default: 32 for 1 client, 8 from 4 clients up)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=1, help="A/B/C/C/B/A rounds")
    parser.add_argument(
        "--arrivals",
        nargs="+",
        choices=["steady", "burst"],
        default=["steady", "burst"],
        help="how concurrent clients start (see the docstring)",
    )
    parser.add_argument(
        "--litellm",
        default=os.environ.get("LITELLM_BIN") or shutil.which("litellm"),
        help="LiteLLM proxy command (its own venv); $LITELLM_BIN",
    )
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve-miner", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_miner is not None:
        serve_miner(args.serve_miner, args.token_ms)
        return
    import uvloop

    with tempfile.TemporaryDirectory(prefix="tn-bench-") as data_dir:
        procs, ports = start_processes(data_dir, args)
        try:
            pids = {name: proc.pid for name, proc in procs.items()}
            results = uvloop.run(measure(ports, pids, args))
        finally:
            stop(procs)
    report(args, results)


if __name__ == "__main__":
    main()
