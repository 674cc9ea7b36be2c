"""Throughput of a miner: N concurrent clients posting /api/chat, figures printed and saved.

    # against a running miner
    python bench/miner_throughput.py --url http://127.0.0.1:3000 --concurrency 1 16
    # spawn `tensornode miner serve` with the given flags, then measure
    python bench/miner_throughput.py --spawn --serve-args "--model llm=tiny --no-batching"
    # A/B: two miners measured in alternating slices (ABBA), so a busy machine hits both alike
    python bench/miner_throughput.py --spawn --serve-args "--model llm=tiny" \
        --serve-args "--model llm=tiny --no-batching" --slices 5

Each client sends requests back to back for ``--duration`` seconds (after a warm-up),
with a fixed ``max_tokens``, ``ignore_eos`` (so every request generates exactly that
many tokens) and a sampled, unseeded request (so the cache never answers). Prints
requests/s, generated tokens/s (from each answer's ``usage``), p50/p95 latency, and
writes everything as JSON to ``bench/results/`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

import httpx

RESULTS = Path(__file__).parent / "results"
URL_LINE = re.compile(r"listening on (http://\S+)")


@dataclass
class Level:
    """What one concurrency level measured."""

    concurrency: int
    duration_s: float
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    latencies_s: list[float] = field(default_factory=list)

    def merge(self, other: Level) -> None:
        """Add another slice of the same level."""
        self.duration_s += other.duration_s
        self.requests += other.requests
        self.errors += other.errors
        self.tokens += other.tokens
        self.latencies_s.extend(other.latencies_s)

    def summary(self) -> dict[str, float | int]:
        lat = sorted(self.latencies_s)
        cuts = quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
        return {
            "concurrency": self.concurrency,
            "duration_s": round(self.duration_s, 3),
            "requests": self.requests,
            "errors": self.errors,
            "tokens": self.tokens,
            "requests_per_s": round(self.requests / self.duration_s, 2),
            "tokens_per_s": round(self.tokens / self.duration_s, 1),
            "p50_latency_ms": round(cuts[49] * 1000, 1) if lat else 0.0,
            "p95_latency_ms": round(cuts[94] * 1000, 1) if lat else 0.0,
        }


async def _client(
    client: httpx.AsyncClient, idx: int, body: dict[str, object], until: float, level: Level
) -> None:
    n = 0
    while time.perf_counter() < until:
        payload = {**body, "prompt": f"{body['prompt']} (client {idx}, request {n})"}
        started = time.perf_counter()
        r = await client.post("/api/chat", json=payload)
        elapsed = time.perf_counter() - started
        n += 1
        if r.status_code != 200:
            level.errors += 1
            continue
        level.requests += 1
        level.latencies_s.append(elapsed)
        usage = r.json().get("usage") or {}
        level.tokens += int(usage.get("completion_tokens", 0))


async def measure(
    url: str, concurrency: int, duration: float, warmup: float, body: dict[str, object]
) -> Level:
    """Run ``concurrency`` clients for ``warmup`` (discarded) then ``duration`` seconds."""
    limits = httpx.Limits(max_connections=concurrency + 4)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        if warmup > 0:
            scratch = Level(concurrency, warmup)
            end = time.perf_counter() + warmup
            await asyncio.gather(
                *(_client(client, i, body, end, scratch) for i in range(concurrency))
            )
        level = Level(concurrency, duration)
        started = time.perf_counter()
        end = started + duration
        await asyncio.gather(*(_client(client, i, body, end, level) for i in range(concurrency)))
        level.duration_s = time.perf_counter() - started  # the last requests finish late
        return level


def spawn_miner(serve_args: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``tensornode miner serve`` on a free loopback port; wait until healthy."""
    exe = str(Path(sys.executable).parent / "tensornode")
    cmd = [exe, "miner", "serve", "--host", "127.0.0.1", "--port", "0", *shlex.split(serve_args)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    url = ""
    for line in proc.stdout:
        match = URL_LINE.search(line)
        if match:
            url = match.group(1)
            break
    if not url:
        proc.wait()
        raise SystemExit(f"miner exited with {proc.returncode} before listening")
    if not wait_healthy(url):
        proc.terminate()
        raise SystemExit("miner never became healthy")
    return proc, url


def wait_healthy(url: str, timeout: float = 180.0) -> bool:
    """Poll ``/health`` until it answers 200 (models loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return True
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(0.2)
    return False


def _print(label: str, info: dict[str, object], levels: list[Level]) -> None:
    print(f"miner: {info.get('model_name')} on {info.get('device')}  [{label}]")
    print(f"{'conc':>5} {'req/s':>8} {'tok/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6}")
    for level in levels:
        s = level.summary()
        print(
            f"{s['concurrency']:>5} {s['requests_per_s']:>8} {s['tokens_per_s']:>9} "
            f"{s['p50_latency_ms']:>8} {s['p95_latency_ms']:>8} {s['errors']:>6}"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every concurrency level, print and save the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", nargs="+", help="base URL(s) of running miners")
    where.add_argument("--spawn", action="store_true", help="start miner subprocess(es)")
    parser.add_argument(
        "--serve-args", action="append", help="flags for --spawn; repeat for an A/B run"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    parser.add_argument("--slices", type=int, default=1, help="alternate miners this often")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds discarded first")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--prompt", default="Question: tell me about the history of computing")
    parser.add_argument("--label", default="", help="name for this run in the JSON")
    parser.add_argument("--out", type=Path, help="JSON file (default: bench/results/...)")
    args = parser.parse_args(argv)

    procs: list[subprocess.Popen[str]] = []
    targets: list[tuple[str, str]] = []  # (label, url)
    body: dict[str, object] = {
        "prompt": args.prompt,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "ignore_eos": True,
    }
    try:
        if args.spawn:
            for serve_args in args.serve_args or ["--model llm=tiny"]:
                proc, url = spawn_miner(serve_args)
                procs.append(proc)
                targets.append((serve_args, url))
        else:
            for url in args.url:
                if not wait_healthy(url):
                    raise SystemExit(f"{url} never became healthy")
                targets.append((url, url))
        infos = [httpx.get(f"{url}/info", timeout=10).json() for _, url in targets]
        slice_s = args.duration / max(1, args.slices)
        levels: list[list[Level]] = [[] for _ in targets]
        for c in args.concurrency:
            merged = [Level(c, 0.0) for _ in targets]
            for n in range(max(1, args.slices)):
                order = list(enumerate(targets))
                for i, (_, url) in order if n % 2 == 0 else reversed(order):  # ABBA
                    warmup = args.warmup if n == 0 else min(args.warmup, 0.5)
                    merged[i].merge(asyncio.run(measure(url, c, slice_s, warmup, body)))
            for i, level in enumerate(merged):
                levels[i].append(level)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
    runs = []
    for (label, url), info, lv in zip(targets, infos, levels, strict=True):
        _print(label, info, lv)
        runs.append(
            {
                "label": label,
                "url": url,
                "serve_args": label if args.spawn else None,
                "info": info,
                "levels": [level.summary() for level in lv],
                "raw_latencies_s": {str(level.concurrency): level.latencies_s for level in lv},
            }
        )
    name = args.label or " vs ".join(label for label, _ in targets)
    record = {
        "label": name,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "request": body,
        "duration_s": args.duration,
        "slices": args.slices,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "runs": runs,
    }
    out = args.out
    if out is None:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "run"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        out = RESULTS / f"miner_throughput-{slug}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
