"""The configured ledger (``rewards.ledger``: local or hedera) and, on Hedera, the score log."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from tensornode.config import Settings
from tensornode.ledger.base import Ledger
from tensornode.ledger.local import LocalLedger

if TYPE_CHECKING:
    from tensornode.ledger.hedera.score_log import ScoreLog


def build_ledger(settings: Settings, sessions: sessionmaker[Session]) -> Ledger:
    """The ledger epochs are paid on."""
    if settings.rewards.ledger == "hedera":
        from tensornode.ledger.hedera.ledger import HederaLedger

        return HederaLedger(settings.hedera, sessions)
    return LocalLedger(sessions, dev_mode=settings.dev_mode)


def build_score_log(settings: Settings) -> ScoreLog | None:
    """The HCS score log when paying on Hedera with a topic configured, else None."""
    if settings.rewards.ledger != "hedera" or settings.hedera.topic_id is None:
        return None
    from tensornode.ledger.hedera.mirror import MirrorNode
    from tensornode.ledger.hedera.operator import load_operator
    from tensornode.ledger.hedera.score_log import ScoreLog

    hedera = settings.hedera
    mirror = MirrorNode(hedera.mirror_base_url(), timeout=hedera.mirror_timeout_s)
    return ScoreLog(hedera, load_operator(hedera), mirror)


def close_ledger(ledger: object) -> None:
    """Release what a ledger or score log holds (gRPC channels, HTTP connections)."""
    close = getattr(ledger, "close", None)
    if callable(close):
        close()
