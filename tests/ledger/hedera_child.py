"""Pay one batch on Hedera in a child process, so a test can SIGKILL it mid-way.

usage: python hedera_child.py DB_URL ORDERS_JSON   (settings from TENSORNODE_HEDERA__*)

Prints ``paid KEY TRANSACTION`` / ``failed KEY WHY`` per order, then ``DONE``.
"""

from __future__ import annotations

import json
import sys

from tensornode.config import Settings
from tensornode.ledger.base import TransferOrder
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.hedera.ledger import HederaLedger


def main(url: str, orders_json: str) -> None:
    settings = Settings().hedera
    engine = sync_engine(url)
    ledger = HederaLedger(settings, session_factory(engine))
    orders = [TransferOrder(**order) for order in json.loads(orders_json)]
    result = ledger.transfer_batch(
        settings.operator_id or "", orders, batch_key="epoch:9:batch:1", memo="epoch 9 batch 1/1"
    )
    for key, receipt in result.paid.items():
        print(f"paid {key} {receipt.transaction_id}", flush=True)
    for key, why in result.failed.items():
        print(f"failed {key} {why}", flush=True)
    ledger.close()
    engine.dispose()
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
