"""Benchmark: paying one epoch on Hedera through the SDK against the fake consensus node.

What it measures is TensorNode's own cost per payout transaction (build, freeze, sign,
store before submit, submit over gRPC on loopback, read the receipt, record it), not
Hedera's: the fake node reaches "consensus" at once, where testnet takes seconds. Prints
payouts, transactions, wall time, payouts/s and per-batch p50/p95, and writes JSON to
``bench/results/``.

    .venv/bin/python bench/hedera_payouts.py --payees 1000
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fakes live with the tests

from hiero_sdk_python.crypto.private_key import PrivateKey  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from rich.progress import Progress  # noqa: E402

from fakes.hedera_node import FakeHederaNode  # noqa: E402
from fakes.mirror_node import FakeMirrorNode  # noqa: E402
from loopback import ThreadedServer  # noqa: E402
from tensornode.config import HederaSettings  # noqa: E402
from tensornode.db.models import Base  # noqa: E402
from tensornode.ledger.base import TransferOrder  # noqa: E402
from tensornode.ledger.database import session_factory, sync_engine  # noqa: E402
from tensornode.ledger.hedera.ledger import HederaLedger  # noqa: E402
from tensornode.ledger.hedera.models import HederaPayment, HederaTransaction  # noqa: E402

RESULTS = ROOT / "bench" / "results"
OPERATOR = "0.0.1000"


def run(payees: int, directory: Path) -> dict[str, Any]:
    node = FakeHederaNode()
    node.start()
    key = PrivateKey.generate_ed25519()
    node.add_account(OPERATOR, key.public_key().to_bytes_raw(), 10**15)
    accounts = [f"0.0.{10_000 + i}" for i in range(payees)]
    for account in accounts:
        node.add_account(account, PrivateKey.generate_ed25519().public_key().to_bytes_raw())
    mirror = ThreadedServer(FakeMirrorNode(node).app)
    mirror.start()
    engine = sync_engine(f"sqlite:///{directory / 'bench.db'}")
    Base.metadata.create_all(engine, tables=[HederaPayment.__table__, HederaTransaction.__table__])
    settings = HederaSettings(
        network="custom",
        nodes={node.address: "0.0.3"},
        mirror_url=mirror.url,
        operator_id=OPERATOR,
        operator_key=SecretStr(key.to_string_der()),
    )
    ledger = HederaLedger(settings, session_factory(engine))
    orders = [TransferOrder(a, 1_000 + i, f"epoch:1:miner:{a}") for i, a in enumerate(accounts)]
    batches = [orders[i : i + ledger.max_batch] for i in range(0, len(orders), ledger.max_batch)]
    timings: list[float] = []
    started = time.perf_counter()
    with Progress() as progress:
        task = progress.add_task("paying", total=len(orders))
        for index, batch in enumerate(batches, start=1):
            began = time.perf_counter()
            result = ledger.transfer_batch(
                OPERATOR, batch, batch_key=f"epoch:1:batch:{index}", memo=f"bench batch {index}"
            )
            timings.append(time.perf_counter() - began)
            assert not result.failed, result.failed
            progress.advance(task, len(batch))
    wall = time.perf_counter() - started
    ledger.close()
    engine.dispose()
    mirror.stop()
    node.stop()
    quantiles = statistics.quantiles(timings, n=20) if len(timings) > 1 else timings * 19
    return {
        "payouts": len(orders),
        "transactions": len(batches),
        "wall_s": round(wall, 3),
        "payouts_per_s": round(len(orders) / wall, 1),
        "batch_p50_ms": round(statistics.median(timings) * 1000, 2),
        "batch_p95_ms": round(quantiles[18] * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payees", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        figures = run(args.payees, Path(directory))
    report = {
        "benchmark": "hedera_payouts",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"hedera_payouts-{report['when'].replace(':', '')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
