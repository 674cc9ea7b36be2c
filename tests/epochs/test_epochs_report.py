"""Epoch reports: canonical hashing, chaining, and verification catching tampering."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from tensornode.epochs.clock import epoch_window
from tensornode.epochs.report import (
    EpochReport,
    MinerResult,
    SplitConfig,
    canonical_json,
    draft_report,
    evidence_sha256,
    verify_epoch,
)
from tensornode.errors import InvalidInput

from .scores import VALIDATORS, FakeMinerScore, miner, rewards, some_miners

CONFIG = SplitConfig.from_settings(rewards())


def report(number: int, previous: EpochReport | None, **changes: Any) -> EpochReport:
    draft = draft_report(
        epoch_window(number, 600),
        changes.pop("miners", some_miners()),
        changes.pop("validators", VALIDATORS),
        emission=changes.pop("emission", 1_000_003),
        config=CONFIG,
        previous=None if previous is None else (previous.epoch, previous.hash),
    )
    paid = [p.model_copy(update={"transaction_id": f"tx-{i}"}) for i, p in enumerate(draft.payouts)]
    return draft.model_copy(update={"payouts": paid, **changes}).sealed()


def tampered(original: EpochReport, *, reseal: bool, **changes: Any) -> EpochReport:
    changed = original.model_copy(update=changes)
    return changed.sealed() if reseal else changed


@pytest.fixture
def chain() -> list[EpochReport]:
    first = report(10, None)
    second = report(11, first)
    return [first, second, report(13, second)]


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": [1, 2.5, None], "a": "é", "c": {"z": 1, "y": True}}) == (
        '{"a":"é","b":[1,2.5,null],"c":{"y":true,"z":1}}'.encode()
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_report_serialises_times_as_utc_iso8601_and_money_as_ints(chain: list[EpochReport]) -> None:
    body = json.loads(chain[0].canonical())
    assert body["starts_at"] == "1970-01-01T01:40:00Z"
    assert body["ends_at"] == "1970-01-01T01:50:00Z"
    assert body["emission"] == 1_000_003
    assert all(type(p["amount"]) is int for p in body["payouts"])
    assert chain[0].canonical() == canonical_json(body).decode()
    assert EpochReport.model_validate_json(chain[0].canonical()) == chain[0]


def test_report_content_and_payouts(chain: list[EpochReport]) -> None:
    first = chain[0]
    assert first.previous_hash is None and first.previous_epoch is None
    assert [m.miner_id for m in first.miners] == ["m-a", "m-b", "m-c", "m-d", "m-e"]
    assert first.miners[0].weight == 910_000
    assert first.miners[0].evidence_count == 2
    assert {(p.account, p.kind): p.amount for p in first.payouts} == {
        # pools: 700,002.1 / 200,000.6 / 100,000.3 -> 700,002 / 200,001 / 100,000
        # miners by weight per account: 910,000 / 800,000 / 0 / 333,333 of 2,043,333
        ("0.0.2001", "miner"): 311_746,
        ("0.0.2002", "miner"): 274_063,
        ("0.0.2004", "miner"): 114_193,
        ("0.0.3001", "validator"): 66_667,
        ("0.0.3002", "validator"): 66_667,
        ("0.0.3003", "validator"): 66_667,
        ("0.0.98", "treasury"): 100_000,
    }
    assert sum(p.amount for p in first.payouts) == first.emission
    assert first.payouts[0].idempotency_key == "epoch:10:miner:0.0.2001"


def test_an_untouched_chain_verifies(chain: list[EpochReport]) -> None:
    first, second, third = chain
    assert second.previous_hash == first.hash and second.previous_epoch == 10
    assert third.previous_hash == second.hash and third.previous_epoch == 11
    assert verify_epoch(first, None) == []
    assert verify_epoch(second, first) == []
    assert verify_epoch(third, second) == []


def test_a_tampered_payout_is_detected(chain: list[EpochReport]) -> None:
    first, second, _ = chain
    payouts = list(first.payouts)
    payouts[0] = payouts[0].model_copy(update={"amount": payouts[0].amount + 5})
    payouts[-1] = payouts[-1].model_copy(update={"amount": payouts[-1].amount - 5})

    edited = tampered(first, reseal=False, payouts=payouts)
    problems = verify_epoch(edited, None)
    assert problems[0].startswith("report: epoch 10: hash ")
    assert "miner payout to 0.0.2001: report says 311751, recomputed 311746" in problems
    assert "treasury payout to 0.0.98: report says 99995, recomputed 100000" in problems

    # rehashing the edit hides nothing: the payouts are recomputed, the next link breaks
    resealed = tampered(first, reseal=True, payouts=payouts)
    assert verify_epoch(resealed, None) == [
        "miner payout to 0.0.2001: report says 311751, recomputed 311746",
        "treasury payout to 0.0.98: report says 99995, recomputed 100000",
    ]
    assert verify_epoch(second, resealed) == [
        f"epoch 11 links to previous hash {first.hash}, but epoch 10's hash is {resealed.hash}"
    ]


def test_a_payout_to_someone_else_is_detected(chain: list[EpochReport]) -> None:
    first = chain[0]
    payouts = [
        p.model_copy(update={"account": "0.0.666"}) if p.kind == "treasury" else p
        for p in first.payouts
    ]
    problems = verify_epoch(tampered(first, reseal=True, payouts=payouts), None)
    assert problems == [
        "treasury payout to 0.0.666: report says 100000, recomputed 0",
        "treasury payout to 0.0.98: report says 0, recomputed 100000",
    ]


def test_a_tampered_previous_hash_is_detected(chain: list[EpochReport]) -> None:
    first, second, _ = chain
    forged = "f" * 64
    edited = tampered(second, reseal=False, previous_hash=forged)
    problems = verify_epoch(edited, first)
    assert problems[0].startswith("report: epoch 11: hash ")
    assert problems[1:] == [
        f"epoch 11 links to previous hash {forged}, but epoch 10's hash is {first.hash}"
    ]
    resealed = tampered(second, reseal=True, previous_hash=forged)
    assert verify_epoch(resealed, first) == problems[1:]


def test_a_tampered_previous_report_is_detected(chain: list[EpochReport]) -> None:
    first, second, _ = chain
    edited = tampered(first, reseal=False, emission=1)
    problems = verify_epoch(second, edited)
    assert len(problems) == 1 and problems[0].startswith("previous report: epoch 10: hash ")


def test_the_wrong_previous_report_is_detected(chain: list[EpochReport]) -> None:
    first, _, third = chain
    assert verify_epoch(third, first) == [
        "epoch 13 links to epoch 11, but the previous report given is epoch 10",
        f"epoch 13 links to previous hash {third.previous_hash}, but epoch 10's hash is "
        f"{first.hash}",
    ]
    assert verify_epoch(third, None) == [
        f"epoch 13 links to epoch 11 ({third.previous_hash}) but no previous report was given"
    ]


def test_a_tampered_score_is_detected(chain: list[EpochReport]) -> None:
    first = chain[0]
    miners = list(first.miners)
    miners[3] = miners[3].model_copy(update={"total": 0.99})  # m-d scored 0, now claims 0.99
    assert verify_epoch(tampered(first, reseal=True, miners=miners), None) == [
        "miner m-d: weight 0 does not match total score 0.99 (expected 990000)"
    ]
    miners[3] = miners[3].model_copy(update={"weight": 990_000})
    problems = verify_epoch(tampered(first, reseal=True, miners=miners), None)
    assert "miner payout to 0.0.2003: report says 0, recomputed 228462" in problems


def test_a_changed_split_config_is_detected(chain: list[EpochReport]) -> None:
    first = chain[0]
    config = first.config.model_copy(update={"treasury_percent": 20, "validators_percent": 10})
    problems = verify_epoch(tampered(first, reseal=True, config=config), None)
    assert "treasury payout to 0.0.98: report says 100000, recomputed 200001" in problems


def test_broken_config_is_reported_not_raised(chain: list[EpochReport]) -> None:
    first = chain[0]
    config = first.config.model_copy(update={"treasury_percent": 50})
    assert verify_epoch(tampered(first, reseal=True, config=config), None) == [
        "payouts cannot be recomputed: split percentages must sum to 100, got 70 + 20 + 50"
    ]


def test_zero_scores_and_no_validators_pay_the_treasury(chain: list[EpochReport]) -> None:
    zero = [miner("m-z", "0.0.2009", 0.0)]
    lonely = report(20, chain[-1], miners=zero, validators=[])
    assert [(p.account, p.kind, p.amount) for p in lonely.payouts] == [
        ("0.0.98", "treasury", 1_000_003)
    ]
    assert verify_epoch(lonely, chain[-1]) == []


class Evidence(BaseModel):
    challenge_sha256: str
    latency_ms: float
    verdict: str


def test_evidence_hash_is_canonical_whatever_the_record_type() -> None:
    as_dicts = [{"verdict": "pass", "latency_ms": 12.5, "challenge_sha256": "ab"}]
    as_models = [Evidence(challenge_sha256="ab", latency_ms=12.5, verdict="pass")]
    assert evidence_sha256(as_dicts) == evidence_sha256(as_models)
    assert evidence_sha256(as_dicts) != evidence_sha256([{**as_dicts[0], "verdict": "fail"}])
    score = FakeMinerScore(1.0, 1.0, 1.0, 1.0, 1.0, as_models)
    result = MinerResult.from_score("m", "0.0.5", score)
    assert result.evidence_sha256 == evidence_sha256(as_dicts)


def test_invalid_scores_are_refused() -> None:
    with pytest.raises(InvalidInput, match="invalid MinerResult: account: String should match"):
        MinerResult.from_score("m", "alice", FakeMinerScore(1, 1, 1, 1, 1.0))
    with pytest.raises(InvalidInput, match="a score must be finite and non-negative"):
        MinerResult.from_score("m", "0.0.5", FakeMinerScore(1, 1, 1, 1, float("nan")))
    with pytest.raises(InvalidInput, match=r"pool account 0\.0\.99 cannot also be paid"):
        report(1, None, validators=["0.0.99"])
    with pytest.raises(InvalidInput, match="epoch 1: a miner is listed twice"):
        report(1, None, miners=[miner("m", "0.0.5", 0.5), miner("m", "0.0.6", 0.5)])
