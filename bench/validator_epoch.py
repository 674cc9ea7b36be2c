"""Benchmark: one validation round against many simulated miners on loopback.

The miners (``tensornode.scoring.sim``, a mostly honest population with wrong, echoing,
flaky and old-key miners) run in a child process, one port each, so they do not share
the validator's event loop. The validator runs ``run_round`` with the llm subnet's
8 challenges per miner and the real MiniLM embedding scorer (loaded and warmed before the
clock starts, as in a long-running validator). Prints wall time and probes/s and writes
JSON to ``bench/results/``.

    .venv/bin/python bench/validator_epoch.py --miners 1000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tensornode.scoring import (
    MinerTarget,
    RoundOptions,
    make_probe_client,
    run_round,
    score_epoch,
)
from tensornode.scoring.scorers.embedding import EmbeddingScorer

RESULTS = Path(__file__).resolve().parent / "results"


def raise_fd_limit(needed: int) -> int:
    """Raise the soft open-files limit towards the hard one; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def bench(
    miners: int, concurrency: int, timeout: float, seed: int, overlap: bool
) -> dict[str, object]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    farm = subprocess.Popen(
        [sys.executable, "-m", "tensornode.scoring.sim", str(miners)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert farm.stdout is not None and farm.stdin is not None
        urls: dict[str, str] = json.loads(farm.stdout.readline())["miners"]
        targets = [MinerTarget(miner_id, url) for miner_id, url in urls.items()]

        t0 = time.perf_counter()
        embedder = EmbeddingScorer()
        embedder.warm_up()
        load_s = time.perf_counter() - t0

        async with make_probe_client() as client:
            t0 = time.perf_counter()
            result = await run_round(
                targets,
                "llm",
                rng_seed=seed,
                client=client,
                concurrency=concurrency,
                timeout=timeout,
                embedder=embedder,
                options=RoundOptions(overlap_embedding=overlap),
            )
            wall = time.perf_counter() - t0
        scores = score_epoch([result], {t.miner_id: 1.0 for t in targets})
    finally:
        if farm.stdin:
            farm.stdin.close()
        farm.wait(timeout=30)

    probes = len(result.evidence)
    verdicts = Counter(e.verdict for e in result.evidence)
    latencies = sorted(e.latency_s for e in result.evidence if e.latency_s is not None)
    by_kind: dict[str, list[float]] = {}
    for miner_id, score in scores.items():
        by_kind.setdefault(miner_id.split("-", 1)[1], []).append(score.total)
    return {
        "bench": "validator_epoch",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "miners": len(targets),
        "challenges_per_miner": len(result.challenges),
        "probes": probes,
        "concurrency": concurrency,
        "timeout_s": timeout,
        "overlap_embedding": overlap,
        "wall_s": round(wall, 3),
        "probes_per_s": round(probes / wall, 1),
        "model_load_and_warmup_s": round(load_s, 3),
        "latency_p50_ms": round(1000 * latencies[len(latencies) // 2], 2) if latencies else None,
        "latency_p99_ms": round(1000 * latencies[int(len(latencies) * 0.99)], 2)
        if latencies
        else None,
        "verdicts": dict(verdicts),
        "mean_total_by_kind": {k: round(sum(v) / len(v), 4) for k, v in sorted(by_kind.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miners", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--overlap", action="store_true", help="encode while probing")
    args = parser.parse_args()
    limit = raise_fd_limit(2 * args.miners + 256)
    report = asyncio.run(
        bench(args.miners, args.concurrency, args.timeout, args.seed, args.overlap)
    )
    report["fd_soft_limit"] = limit
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"validator_epoch-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
