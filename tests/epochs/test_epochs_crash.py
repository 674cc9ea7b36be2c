"""A payout killed half-way (SIGKILL) and rerun pays every account exactly once.

The payer runs in a real child process against the real database; it pauses after k
payouts, the test kills it with SIGKILL, then a second child settles the epoch to the end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tensornode.epochs.models import EPOCH_PAYING, EPOCH_SETTLED, Epoch
from tensornode.epochs.report import verify_epoch
from tensornode.epochs.settle import load_report
from tensornode.ledger.local import LocalLedger

from .checks import assert_paid_exactly_once, entries
from .scores import POOL, VALIDATORS, rewards, some_miners

CHILD = Path(__file__).with_name("settle_child.py")
EPOCH = 40


def write_spec(path: Path) -> Path:
    spec = {
        "epoch": EPOCH,
        "epoch_seconds": 600,
        "rewards": rewards().model_dump(),
        "miners": [m.model_dump(mode="json") for m in some_miners()],
        "validators": VALIDATORS,
    }
    path.write_text(json.dumps(spec))
    return path


def run_until_paused(db_url: str, spec: Path, pause_after: int) -> list[str]:
    """Start a payer, wait until it has made ``pause_after`` payouts, SIGKILL it."""
    command = [sys.executable, str(CHILD), db_url, str(spec), str(pause_after)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stderr is not None
        lines: list[str] = []
        try:
            for line in child.stdout:
                lines.append(line.strip())
                if lines[-1] == "PAUSED":
                    break
            else:
                pytest.fail(f"payer ended before pausing: {lines} {child.stderr.read()}")
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return [line.split()[1] for line in lines if line.startswith("paid ")]


@pytest.mark.parametrize("pause_after", [1, 4])
def test_killed_payout_resumes_and_pays_each_account_once(
    db_url: str,
    ledger: LocalLedger,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    pause_after: int,
) -> None:
    spec = write_spec(tmp_path / "spec.json")
    paid_before_kill = run_until_paused(db_url, spec, pause_after)

    # killed half-way: minted, k payouts made, the epoch frozen but not published
    assert len(paid_before_kill) == pause_after
    made = entries(sessions, EPOCH)
    assert made == sorted([f"epoch:{EPOCH}:mint", *paid_before_kill])
    with sessions() as session:
        assert session.get_one(Epoch, EPOCH).status == EPOCH_PAYING
    assert load_report(sessions, EPOCH) is None
    assert ledger.total_minted() == 1_000_003

    done = subprocess.run(
        [sys.executable, str(CHILD), db_url, str(spec), "0"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # the rerun re-reports the payouts made before the kill (same receipts) and makes the rest
    rerun_keys = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("paid ")]
    assert sorted(rerun_keys) == sorted(set(rerun_keys))

    report = load_report(sessions, EPOCH)
    assert report is not None
    assert done.stdout.strip().endswith(f"SETTLED {report.hash}")
    assert sorted(rerun_keys) == sorted(p.idempotency_key for p in report.payouts)
    assert_paid_exactly_once(ledger, sessions, report)
    assert ledger.total_minted() == report.emission == 1_000_003
    assert ledger.balance(POOL) == 0
    assert sum(p.amount for p in report.payouts) == report.emission
    assert verify_epoch(report, None) == []
    with sessions() as session:
        assert session.get_one(Epoch, EPOCH).status == EPOCH_SETTLED
