"""Settle one epoch in a child process, so a test can SIGKILL it half-way.

usage: python settle_child.py DB_URL SPEC_JSON PAUSE_AFTER

SPEC_JSON holds ``{"epoch", "epoch_seconds", "rewards", "miners", "validators"}``. Each
payout prints ``paid KEY TRANSACTION``; after PAUSE_AFTER payouts (0: never) the child
prints ``PAUSED`` and sleeps until killed. On success it prints ``SETTLED HASH``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tensornode.config import RewardsSettings
from tensornode.epochs.clock import epoch_window
from tensornode.epochs.report import MinerResult, PayoutRecord
from tensornode.epochs.settle import settle_epoch
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.local import LocalLedger


def main(url: str, spec_path: str, pause_after: int) -> None:
    spec = json.loads(Path(spec_path).read_text())
    engine = sync_engine(url)
    sessions = session_factory(engine)
    paid = 0

    def pause_after_k(record: PayoutRecord) -> None:
        nonlocal paid
        paid += 1
        print(f"paid {record.idempotency_key} {record.transaction_id}", flush=True)
        if paid == pause_after:
            print("PAUSED", flush=True)
            time.sleep(3600)  # the test kills us here

    ledger = LocalLedger(sessions)
    ledger.max_batch = 1  # one payout per batch: the test kills us between two payouts
    report = settle_epoch(
        sessions,
        ledger,
        epoch_window(spec["epoch"], spec["epoch_seconds"]),
        [MinerResult.model_validate(m) for m in spec["miners"]],
        spec["validators"],
        RewardsSettings.model_validate(spec["rewards"]),
        on_payout=pause_after_k,
    )
    engine.dispose()
    print(f"SETTLED {report.hash}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
