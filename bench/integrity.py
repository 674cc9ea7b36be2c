"""Benchmark: what each way of cheating earns over one settled epoch.

Runs :func:`tensornode.scoring.adversaries.run_epoch` (a real coordinator on SQLite in a
temporary directory, real HTTP miners on loopback registered through ``POST /miners``:
two honest solvers, an honest-but-weak model, constant, echo, empty, memoriser,
relay/copier, probe-detector and health-only miners; rounds of the coordinator's own
validator with user traffic through the gateway in between; the epoch settled) and
prints each miner's reward and its share of the honest solver's, then writes JSON to
``bench/results/integrity.json``.

    .venv/bin/python bench/integrity.py --rounds 4 --requests 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from tensornode.config import Settings
from tensornode.scoring.adversaries import CHEATERS, EpochOutcome, run_epoch
from tensornode.scoring.scorers.embedding import EmbeddingScorer

RESULTS = Path(__file__).resolve().parent / "results"
EMISSION = 1_000_000_007


def settings_in(directory: Path) -> Settings:
    """A dev-mode coordinator whose loops the runner drives (one day per epoch)."""
    return Settings(
        data_dir=directory / "data",
        dev_mode=True,
        database_url=f"sqlite:///{directory / 'network.db'}",
        monitor={"enabled": False},  # type: ignore[arg-type]
        validator={"in_process": False, "timeout_s": 10.0},  # type: ignore[arg-type]
        rewards={  # type: ignore[arg-type]
            "scheduler": False,
            "epoch_seconds": 86_400,
            "emission_per_epoch": EMISSION,
        },
    )


def table(outcome: EpochOutcome) -> Table:
    out = Table(title=f"epoch {outcome.epoch}: {outcome.rounds} rounds, "
                f"{outcome.user_requests} user requests, emission {outcome.emission}")  # fmt: skip
    for column in ("rank", "miner", "reward", "of honest", "total", "consistency", "served"):
        out.add_column(column, justify="left" if column == "miner" else "right")
    for m in sorted(outcome.miners.values(), key=lambda m: m.rank):
        out.add_row(
            str(m.rank), m.name, str(m.reward), f"{m.share_of_honest:.1%}", f"{m.total:.3f}",
            f"{m.consistency:.2f} ({m.traffic_passed}/{m.traffic})",
            str(outcome.served.get(m.name, 0)),
        )  # fmt: skip
    return out


async def main(rounds: int, requests: int) -> dict[str, object]:
    console = Console()
    embedder = EmbeddingScorer()
    embedder.warm_up()
    with (
        tempfile.TemporaryDirectory() as tmp,
        Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
        ) as progress,
    ):
        task = progress.add_task("starting the coordinator", total=None)
        started = time.perf_counter()
        outcome = await run_epoch(
            settings_in(Path(tmp)),
            rounds=rounds,
            user_requests=requests,
            embedder=embedder,
            progress=lambda text: progress.update(task, description=text),
        )
        elapsed = time.perf_counter() - started
    console.print(table(outcome))
    worst = max(outcome.miners[c].share_of_honest for c in CHEATERS)
    copied = outcome.miners["honest-a"].reward / max(1, outcome.miners["honest-b"].reward)
    console.print(
        f"best cheater: {worst:.1%} of the honest solver (target <= 5%); copied honest "
        f"miner: {copied:.1%} of the other (target >= 95%); {elapsed:.1f} s"
    )
    return {
        "benchmark": "integrity",
        "at": datetime.now(UTC).isoformat(),
        "machine": platform.platform(),
        "rounds": rounds,
        "user_requests": requests,
        "seconds": round(elapsed, 2),
        "best_cheater_share": round(worst, 4),
        "copied_honest_share": round(copied, 4),
        "served": outcome.served,
        "miners": {name: asdict(m) for name, m in outcome.miners.items()},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=4, help="validator rounds in the epoch")
    parser.add_argument("--requests", type=int, default=60, help="user requests in all")
    args = parser.parse_args()
    result = asyncio.run(main(args.rounds, args.requests))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "integrity.json").write_text(json.dumps(result, indent=2) + "\n")
