"""What the gateway adds: the same load straight to a miner and through the coordinator.

    .venv/bin/python bench/gateway_overhead.py                # defaults below
    .venv/bin/python bench/gateway_overhead.py --concurrency 32 --duration 10 \
        --latency-requests 2000

Three processes on loopback: a fast echo miner (a raw ASGI app on uvicorn with uvloop and
httptools, so the miner is not the bottleneck), a real coordinator (``tensornode
coordinator --dev``, the validator loop and epoch scheduler off, no rate limit) with the
miner registered through ``POST /miners`` (dev mode, ``miner check`` included), and this
process as the load generator (a lean keep-alive HTTP/1.1 client on uvloop, the same for
both targets, with the same number of connections). Both targets are measured in the
same run, in alternating slices ``direct, gateway, gateway, direct`` (``--rounds`` times),
so a change in the machine's other load during the run weighs on both alike. Per target:

- latency: one request at a time (``--latency-requests`` in all, split over its slices):
  p50/p99, and the added latency (gateway minus direct) at each; plus the gateway's own
  ``X-TensorNode-Overhead-Ms``.
- throughput: ``--concurrency`` connections back to back for ``--duration`` seconds in
  all (split over its slices): requests per second (and per slice), with the CPU time
  each process spent per request (from /proc), which tells the gateway's cost apart
  from the machine's other load. The ratio gateway / direct is the headline figure.

On a machine with few cores the three processes share them, so the ratio is about
``(miner + loadgen) / (gateway + miner + loadgen)`` of their CPU per request.

Prints a table and writes JSON to ``bench/results/gateway_overhead-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROOT = Path(__file__).resolve().parents[1]
WALLET = "0.0.9000"


# -- the echo miner (run in its own process with --serve-echo PORT) -------------------


def _json_response(status: int, body: dict[str, Any]) -> tuple[int, bytes]:
    return status, json.dumps(body).encode()


def _echo(raw: bytes, started: float) -> tuple[int, bytes]:
    try:
        body = json.loads(raw)
    except ValueError:
        return _json_response(400, {"error": "malformed JSON body"})
    if not isinstance(body, dict):
        return _json_response(422, {"error": "request body must be a JSON object"})
    prompt, max_tokens = body.get("prompt"), body.get("max_tokens", 100)
    temperature = body.get("temperature", 0.7)
    if not isinstance(prompt, str) or not prompt.strip():
        return _json_response(422, {"error": "prompt: must be a non-empty string"})
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return _json_response(422, {"error": "max_tokens: must be an integer >= 1"})
    if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
        return _json_response(422, {"error": "temperature: must be in [0, 2]"})
    words = prompt.split()[:max_tokens]
    return _json_response(
        200,
        {
            "response": " ".join(words),
            "model": "echo",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "processing_time": round(time.perf_counter() - started, 6),
            "usage": {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(words),
                "total_tokens": len(prompt.split()) + len(words),
            },
        },
    )


STARTED = time.monotonic()
INFO = {
    "model_name": "echo",
    "model_type": "llm",
    "version": "1.0.0",
    "capabilities": ["text-generation"],
    "max_context_length": 4096,
    "max_concurrency": 256,
}


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The miner API, answered by echoing the prompt (raw ASGI: as little work as can be)."""
    started = time.perf_counter()
    raw = b""
    more = True
    while more:
        message = await receive()
        raw += message.get("body", b"")
        more = message.get("more_body", False)
    path = scope["path"]
    if path == "/api/chat" and scope["method"] == "POST":
        status, data = _echo(raw, started)
    elif path == "/health":
        up = int(time.monotonic() - STARTED)
        uptime = f"{up // 3600}h {up // 60 % 60}m {up % 60}s"
        status, data = _json_response(
            200, {"status": "healthy", "model_loaded": True, "uptime": uptime}
        )
    elif path == "/info":
        status, data = _json_response(200, INFO)
    elif path.startswith("/api/chat/"):
        status, data = _json_response(404, {"error": "Model not available"})
    else:
        status, data = _json_response(404, {"error": "Not found"})
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def serve_echo(port: int) -> None:
    import uvicorn

    uvicorn.run(
        echo_app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


# -- a lean HTTP/1.1 keep-alive client ------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``request`` sends raw bytes, returns status and head."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        at = head.find(b"content-length:")
        line_end = head.find(b"\r\n", at)
        length = int(head[at + 15 : line_end if line_end >= 0 else len(head)]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        del self.buffer[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((int(head[9:12]), head))

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


async def connect(port: int) -> Connection:
    _, protocol = await asyncio.get_running_loop().create_connection(Connection, "127.0.0.1", port)
    return protocol


def chat_request(port: int, n: int) -> bytes:
    body = json.dumps({"prompt": f"the quick brown fox {n}", "max_tokens": 16}).encode()
    return (
        b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (port, len(body), body)
    )


def header_value(head: bytes, name: bytes) -> float | None:
    at = head.find(name + b":")
    if at < 0:
        return None
    end = head.find(b"\r\n", at)
    return float(head[at + len(name) + 1 : end if end >= 0 else len(head)])


@dataclass
class Run:
    """Latencies (s), errors and gateway-reported overheads (ms) of one load."""

    latencies: list[float] = field(default_factory=list)
    overheads_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0


async def _client(port: int, run: Run, until: float, limit: int | None) -> None:
    conn = await connect(port)
    n = 0
    while time.perf_counter() < until and (limit is None or n < limit):
        started = time.perf_counter()
        status, head = await conn.request(chat_request(port, n))
        run.latencies.append(time.perf_counter() - started)
        n += 1
        if status != 200:
            run.errors += 1
        overhead = header_value(head, b"x-tensornode-overhead-ms")
        if overhead is not None:
            run.overheads_ms.append(overhead)
    assert conn.transport is not None
    conn.transport.close()


async def load(port: int, concurrency: int, seconds: float, limit: int | None = None) -> Run:
    run = Run()
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_client(port, run, until, limit) for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return quantiles(values, n=100, method="inclusive")[q - 1]


# -- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"process for port {port} exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)  # not listening yet
    raise SystemExit(f"nothing answered on port {port} within {seconds}s")


def start_processes(data_dir: str) -> tuple[list[subprocess.Popen[bytes]], int, int]:
    import httpx

    miner_port, coord_port = free_port(), free_port()
    miner = subprocess.Popen([sys.executable, __file__, "--serve-echo", str(miner_port)])
    env = {
        **os.environ,
        "TENSORNODE_DATA_DIR": data_dir,
        "TENSORNODE_LOG_LEVEL": "WARNING",
        "TENSORNODE_GATEWAY__RATE_LIMIT_PER_MIN": "1e9",
        "TENSORNODE_VALIDATOR__IN_PROCESS": "false",
        "TENSORNODE_REWARDS__SCHEDULER": "false",
    }
    coordinator = subprocess.Popen(
        [sys.executable, "-m", "tensornode.cli.main", "coordinator", "--dev",
         "--port", str(coord_port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    procs = [miner, coordinator]
    wait_http(miner_port, "/health", miner)
    wait_http(coord_port, "/health", coordinator)
    base = f"http://127.0.0.1:{coord_port}"
    resp = httpx.post(
        f"{base}/miners",
        json={"endpoint": f"http://127.0.0.1:{miner_port}", "name": "echo"},
        headers={"X-Wallet-Address": WALLET},
        timeout=60,
    )
    if resp.status_code != 201:
        raise SystemExit(f"registering the echo miner failed: {resp.status_code} {resp.text}")
    for _ in range(100):  # the gateway's candidate refresh (about every second)
        if httpx.get(f"{base}/gateway/status").json()["miners"]:
            break
        time.sleep(0.1)
    return procs, miner_port, coord_port


# -- the benchmark --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def order(rounds: int) -> list[str]:
    """Slices in A/B/B/A order, ``rounds`` times: drift in the machine's load cancels."""
    return ["direct", "gateway", "gateway", "direct"] * rounds


async def measure(
    ports: dict[str, int], pids: dict[str, int], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Both targets, in alternating slices, with the same generator and connection count."""
    slices = order(args.rounds)
    for name in ("direct", "gateway"):
        await load(ports[name], args.concurrency, args.warmup)
    latency = {name: Run() for name in ports}
    per_slice = max(1, args.latency_requests // slices.count("direct"))
    for name in slices:
        run = await load(ports[name], 1, 3600, limit=per_slice)
        latency[name].latencies += run.latencies
        latency[name].overheads_ms += run.overheads_ms
        latency[name].errors += run.errors
    throughput = {name: Run() for name in ports}
    cpu = {name: dict.fromkeys(pids, 0.0) for name in ports}
    rates: dict[str, list[float]] = {name: [] for name in ports}
    seconds = args.duration / slices.count("direct")
    for name in slices:
        before = {proc: cpu_seconds(pid) for proc, pid in pids.items()}
        run = await load(ports[name], args.concurrency, seconds)
        for proc, pid in pids.items():
            cpu[name][proc] += cpu_seconds(pid) - before[proc]
        throughput[name].latencies += run.latencies
        throughput[name].errors += run.errors
        throughput[name].seconds += run.seconds
        rates[name].append(round(len(run.latencies) / run.seconds, 1))
    return {
        name: summary(latency[name], throughput[name], cpu[name], rates[name]) for name in ports
    }


def summary(
    latency: Run, throughput: Run, cpu: dict[str, float], rates: list[float]
) -> dict[str, Any]:
    done = len(throughput.latencies)
    return {
        **{f"{proc}_cpu_us_per_request": round(cpu[proc] / done * 1e6, 1) for proc in cpu},
        "p50_ms": round(pct(latency.latencies, 50) * 1000, 3),
        "p99_ms": round(pct(latency.latencies, 99) * 1000, 3),
        "requests_per_s": round(done / throughput.seconds, 1),
        "requests_per_s_by_slice": rates,
        "loaded_p50_ms": round(pct(throughput.latencies, 50) * 1000, 3),
        "loaded_p99_ms": round(pct(throughput.latencies, 99) * 1000, 3),
        "errors": latency.errors + throughput.errors,
        "self_reported_overhead_p50_ms": (
            round(pct(latency.overheads_ms, 50), 3) if latency.overheads_ms else None
        ),
        "self_reported_overhead_p99_ms": (
            round(pct(latency.overheads_ms, 99), 3) if latency.overheads_ms else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="throughput s per target")
    parser.add_argument("--rounds", type=int, default=1, help="A/B/B/A rounds (slices)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--latency-requests", type=int, default=2000, help="per target")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--serve-echo", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_echo is not None:
        serve_echo(args.serve_echo)
        return
    import uvloop

    with tempfile.TemporaryDirectory(prefix="tn-bench-") as data_dir:
        procs, miner_port, coord_port = start_processes(data_dir)
        try:
            miner, coordinator = (p.pid for p in procs)
            pids = {"miner": miner, "coordinator": coordinator, "loadgen": os.getpid()}
            ports = {"direct": miner_port, "gateway": coord_port}
            results = uvloop.run(measure(ports, pids, args))
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    report(args, results["direct"], results["gateway"])


def report(args: argparse.Namespace, direct: dict[str, Any], gateway: dict[str, Any]) -> None:
    added = {
        "p50_ms": round(gateway["p50_ms"] - direct["p50_ms"], 3),
        "p99_ms": round(gateway["p99_ms"] - direct["p99_ms"], 3),
        "throughput_ratio": round(gateway["requests_per_s"] / direct["requests_per_s"], 3),
    }
    print(f"{'':28}{'direct':>12}{'gateway':>12}")
    keys = ("p50_ms", "p99_ms", "requests_per_s", "loaded_p50_ms", "loaded_p99_ms", "errors")
    cpu = ("miner_cpu_us_per_request", "coordinator_cpu_us_per_request")
    for key in (*keys, *cpu, "loadgen_cpu_us_per_request"):
        print(f"{key:28}{direct[key]:>12}{gateway[key]:>12}")
    print(f"added latency p50 / p99 (ms): {added['p50_ms']} / {added['p99_ms']}")
    own = (gateway["self_reported_overhead_p50_ms"], gateway["self_reported_overhead_p99_ms"])
    print(f"gateway self-reported overhead p50 / p99 (ms): {own[0]} / {own[1]}")
    print(f"requests/s by slice: direct {direct['requests_per_s_by_slice']},"
          f" gateway {gateway['requests_per_s_by_slice']}")  # fmt: skip
    print(f"throughput through the gateway: {added['throughput_ratio']:.0%} of direct")
    load1, load5, _ = os.getloadavg()
    result = {
        "benchmark": "gateway_overhead",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_1m_5m": [round(load1, 2), round(load5, 2)],
        },
        "settings": {
            "concurrency": args.concurrency,
            "duration_s_per_target": args.duration,
            "latency_requests_per_target": args.latency_requests,
            "slices": order(args.rounds),
        },
        "direct": direct,
        "gateway": gateway,
        "added": added,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"gateway_overhead-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
