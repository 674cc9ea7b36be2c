"""``tensornode epoch verify N --hedera``: an epoch checked against what Hedera recorded.

From the score log topic (read from the mirror node): epoch N's message is there, every
epoch message up to N links to the one before it (hash and number), the full report
hashes to the published hash and recomputes (:func:`verify_epoch`), its payouts hash to
the published payout root, every payout's transaction succeeded on the ledger with the
epoch in its memo and credited that account exactly that amount, and every validator
paid for the epoch registered for it with a message of its own.
"""

from __future__ import annotations

from collections.abc import Callable

from tensornode.epochs.report import EpochReport, verify_epoch
from tensornode.ledger.hedera.mirror import MirrorNode, TopicMessage
from tensornode.ledger.hedera.score_log import (
    EpochMessage,
    parse_messages,
    payout_root,
    validators_registered,
)

ReportSource = Callable[[int], EpochReport | None]


def published_epochs(
    messages: list[TopicMessage],
) -> tuple[dict[int, EpochMessage], list[tuple[int, str]]]:
    """The first epoch message per epoch, and (epoch, problem) for broken links and
    duplicates that disagree."""
    epochs: dict[int, EpochMessage] = {}
    problems: list[tuple[int, str]] = []
    for raw, parsed in parse_messages(messages):
        if not isinstance(parsed, EpochMessage):
            continue
        first = epochs.get(parsed.epoch)
        if first is None:
            if parsed.previous_epoch is not None:
                linked = epochs.get(parsed.previous_epoch)
                if linked is None or linked.report != parsed.previous:
                    problems.append(
                        (
                            parsed.epoch,
                            f"message {raw.sequence_number}: epoch {parsed.epoch} "
                            f"links to epoch {parsed.previous_epoch} ({parsed.previous}), which "
                            "the topic does not hold before it",
                        )
                    )
            epochs[parsed.epoch] = parsed
        elif first != parsed:
            problems.append(
                (
                    parsed.epoch,
                    f"message {raw.sequence_number}: epoch {parsed.epoch} published "
                    f"again with a different report ({parsed.report}, first {first.report})",
                )
            )
    return epochs, problems


def verify_on_hedera(
    number: int,
    messages: list[TopicMessage],
    reports: ReportSource,
    mirror: MirrorNode,
    token_id: str | None,
) -> list[str]:
    """Every problem found with epoch ``number`` (an empty list: it checks out)."""
    epochs, chain_problems = published_epochs(messages)
    problems = [text for epoch, text in chain_problems if epoch <= number]
    published = epochs.get(number)
    if published is None:
        return [*problems, f"epoch {number} is not on the score log topic"]
    report = reports(number)
    if report is None:
        return [*problems, f"epoch {number}'s full report cannot be fetched"]
    previous = None if report.previous_epoch is None else reports(report.previous_epoch)
    problems += verify_epoch(report, previous)
    if report.hash != published.report:
        problems.append(
            f"epoch {number}: the report's hash {report.hash} "
            f"is not the published {published.report}"
        )
    if payout_root(report.payouts) != published.payout_root:
        problems.append(f"epoch {number}: the payouts do not hash to the published payout root")
    problems += _check_transfers(report, mirror, token_id)
    registered = validators_registered(messages, number)
    problems += [
        f"validator {p.account} was paid for epoch {number} but did not register for it"
        for p in report.payouts
        if p.kind == "validator" and p.account not in registered
    ]
    return problems


def _check_transfers(report: EpochReport, mirror: MirrorNode, token_id: str | None) -> list[str]:
    problems = []
    for payout in report.payouts:
        where = f"epoch {report.epoch}: {payout.kind} payout to {payout.account}"
        if payout.transaction_id is None:
            problems.append(f"{where} names no transaction")
            continue
        seen = mirror.transaction(payout.transaction_id)
        if seen is None:
            problems.append(f"{where}: transaction {payout.transaction_id} is not on the ledger")
        elif seen.result != "SUCCESS":
            problems.append(f"{where}: transaction {payout.transaction_id} {seen.result}")
        elif f"epoch {report.epoch} " not in f"{seen.memo} ":
            problems.append(f"{where}: transaction memo {seen.memo!r} names another epoch")
        elif seen.credited(payout.account, token_id) != payout.amount:
            problems.append(
                f"{where}: the ledger credited {seen.credited(payout.account, token_id)}, "
                f"the report says {payout.amount}"
            )
    return problems
