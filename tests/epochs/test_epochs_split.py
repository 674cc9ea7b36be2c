"""The reward split: integer shares that sum exactly, largest remainder, ties by account id."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensornode.epochs.split import (
    Payout,
    SplitPercents,
    largest_remainder,
    pool_amounts,
    score_weight,
    split_emission,
)
from tensornode.errors import InvalidInput

DEFAULT = SplitPercents(70, 20, 10)
TREASURY = "0.0.98"

accounts = st.from_regex(r"0\.0\.[1-9][0-9]{0,5}", fullmatch=True)
weights_st = st.dictionaries(
    accounts,
    st.one_of(
        st.integers(0, 10**12),
        st.fractions(min_value=0, max_value=10**6, max_denominator=10**9),
    ),
    min_size=1,
    max_size=30,
).filter(lambda w: sum(w.values()) > 0)
totals = st.integers(0, 10**18)
percents_st = st.tuples(st.integers(0, 100), st.integers(0, 100)).filter(
    lambda p: p[0] + p[1] <= 100
)


# -- worked examples -----------------------------------------------------------------------


def test_hare_quota_textbook_example() -> None:
    # 10 seats, votes 47000/16000/15800/12000/6100/3100 -> 5, 2, 1, 1, 1, 0
    votes = {"A": 47000, "B": 16000, "C": 15800, "D": 12000, "E": 6100, "F": 3100}
    assert largest_remainder(10, votes) == {"A": 5, "B": 2, "C": 1, "D": 1, "E": 1, "F": 0}


def test_equal_remainders_go_to_the_smallest_account_id() -> None:
    assert largest_remainder(10, {"0.0.9": 1, "0.0.7": 1, "0.0.8": 1}) == {
        "0.0.7": 4,
        "0.0.8": 3,
        "0.0.9": 3,
    }
    assert largest_remainder(2, {"b": 1, "a": 1, "c": 1}) == {"a": 1, "b": 1, "c": 0}


def test_fraction_weights_are_exact() -> None:
    # 1/3 vs 2/3 of 100: 33.33 and 66.67 -> the larger remainder (0.67) takes the unit
    assert largest_remainder(100, {"a": Fraction(1, 3), "b": Fraction(2, 3)}) == {"a": 33, "b": 67}


def test_default_split_of_1001_tinybar() -> None:
    payouts = split_emission(
        1001,
        DEFAULT,
        miner_weights={"0.0.10": 900_000, "0.0.11": 300_000},
        validators=["0.0.20", "0.0.22", "0.0.21"],
        treasury_account=TREASURY,
    )
    # pools 700.7 / 200.2 / 100.1 -> 701 / 200 / 100; miners 525.75 / 175.25 -> 526 / 175;
    # validators 66.67 each -> 67, 67, 66 (ties by account id)
    assert payouts == [
        Payout("0.0.10", "miner", 526),
        Payout("0.0.11", "miner", 175),
        Payout("0.0.20", "validator", 67),
        Payout("0.0.21", "validator", 67),
        Payout("0.0.22", "validator", 66),
        Payout("0.0.98", "treasury", 100),
    ]


def test_score_weight_is_integer_micro_points() -> None:
    assert score_weight(0.8731) == 873_100
    assert score_weight(1.0) == 1_000_000
    assert score_weight(0.0) == 0
    assert score_weight(0.0000004) == 0
    assert score_weight(0.0000005) == 0  # exact binary value is just under half a point
    assert score_weight(1) == 1_000_000


# -- zero and unclaimable shares -----------------------------------------------------------


def test_no_positive_miner_score_sends_the_miners_pool_to_the_treasury() -> None:
    payouts = split_emission(
        1000,
        DEFAULT,
        miner_weights={"0.0.10": 0, "0.0.11": 0},
        validators=["0.0.20"],
        treasury_account=TREASURY,
    )
    assert payouts == [Payout("0.0.20", "validator", 200), Payout(TREASURY, "treasury", 800)]


def test_no_validator_sends_the_validators_pool_to_the_treasury() -> None:
    payouts = split_emission(
        1000, DEFAULT, miner_weights={"0.0.10": 5}, validators=[], treasury_account=TREASURY
    )
    assert payouts == [Payout("0.0.10", "miner", 700), Payout(TREASURY, "treasury", 300)]


def test_nobody_to_pay_sends_everything_to_the_treasury() -> None:
    payouts = split_emission(
        999, DEFAULT, miner_weights={}, validators=[], treasury_account=TREASURY
    )
    assert payouts == [Payout(TREASURY, "treasury", 999)]


def test_zero_emission_pays_nothing() -> None:
    assert (
        split_emission(
            0, DEFAULT, miner_weights={"0.0.1": 5}, validators=["0.0.2"], treasury_account=TREASURY
        )
        == []
    )


def test_zero_weight_gets_nothing_and_is_left_out_of_payouts() -> None:
    assert largest_remainder(7, {"a": 0, "b": 1, "c": 1}) == {"a": 0, "b": 4, "c": 3}
    payouts = split_emission(
        100,
        SplitPercents(100, 0, 0),
        miner_weights={"0.0.1": 0, "0.0.2": 3},
        validators=[],
        treasury_account=TREASURY,
    )
    assert payouts == [Payout("0.0.2", "miner", 100)]


def test_treasury_that_also_mines_gets_two_payouts() -> None:
    payouts = split_emission(
        100, DEFAULT, miner_weights={TREASURY: 1}, validators=[], treasury_account=TREASURY
    )
    assert payouts == [Payout(TREASURY, "miner", 70), Payout(TREASURY, "treasury", 30)]


def test_zero_total_with_zero_weights_is_all_zero() -> None:
    assert largest_remainder(0, {"a": 0}) == {"a": 0}
    assert largest_remainder(0, {}) == {}


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "message"),
    [
        (10, {}, "cannot split 10: no positive weight"),
        (10, {"a": 0}, "cannot split 10: no positive weight"),
        (1.5, {"a": 1}, "the amount to split must be a non-negative integer, got 1.5"),
        (-1, {"a": 1}, "the amount to split must be a non-negative integer, got -1"),
        (True, {"a": 1}, "the amount to split must be a non-negative integer, got True"),
        (10, {"a": 0.5}, "weight of a must be an int or a Fraction, got 0.5"),
        (10, {"a": -1}, "weight of a must not be negative, got -1"),
    ],
)
def test_bad_input_is_refused(total: object, weights: object, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        largest_remainder(total, weights)  # type: ignore[arg-type]
    assert info.value.message == message


@pytest.mark.parametrize("score", [math.nan, math.inf, -0.1, "0.5", None])
def test_bad_scores_are_refused(score: object) -> None:
    with pytest.raises(InvalidInput):
        score_weight(score)  # type: ignore[arg-type]


def test_percentages_must_sum_to_100() -> None:
    with pytest.raises(InvalidInput, match="must sum to 100, got 70 \\+ 20 \\+ 20"):
        SplitPercents(70, 20, 20)
    with pytest.raises(InvalidInput, match="miners percent must be an integer"):
        SplitPercents(70.0, 20, 10)  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------


@settings(max_examples=300, database=None)
@given(total=totals, weights=weights_st)
def test_shares_sum_exactly_and_stay_within_one_unit_of_the_exact_quota(
    total: int, weights: dict[str, Fraction | int]
) -> None:
    shares = largest_remainder(total, weights)
    assert set(shares) == set(weights)
    assert sum(shares.values()) == total
    weight_sum = sum(Fraction(w) for w in weights.values())
    for key, weight in weights.items():
        quota = total * Fraction(weight) / weight_sum
        assert math.floor(quota) <= shares[key] <= math.ceil(quota)
        assert all(isinstance(v, int) for v in shares.values())


@settings(max_examples=200, database=None)
@given(total=totals, weights=weights_st, data=st.data())
def test_result_does_not_depend_on_input_order(
    total: int, weights: dict[str, Fraction | int], data: st.DataObject
) -> None:
    keys = data.draw(st.permutations(list(weights)))
    assert largest_remainder(total, {k: weights[k] for k in keys}) == largest_remainder(
        total, weights
    )


@settings(max_examples=200, database=None)
@given(total=totals, weights=weights_st)
def test_a_larger_weight_never_gets_less(total: int, weights: dict[str, Fraction | int]) -> None:
    shares = largest_remainder(total, weights)
    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] >= shares[b]


@settings(max_examples=300, database=None)
@given(
    emission=totals,
    percents=percents_st,
    miner_weights=st.dictionaries(accounts, st.integers(0, 10**6), max_size=20),
    validators=st.lists(accounts, max_size=10),
)
def test_payouts_always_sum_to_the_emission(
    emission: int,
    percents: tuple[int, int],
    miner_weights: dict[str, int],
    validators: list[str],
) -> None:
    split = SplitPercents(percents[0], percents[1], 100 - sum(percents))
    payouts = split_emission(
        emission,
        split,
        miner_weights=miner_weights,
        validators=validators,
        treasury_account=TREASURY,
    )
    assert sum(p.amount for p in payouts) == emission
    assert all(p.amount > 0 for p in payouts)
    assert len({(p.account, p.kind) for p in payouts}) == len(payouts)
    assert payouts == sorted(payouts)
    pools = pool_amounts(emission, split)
    assert sum(pools.values()) == emission
    if any(miner_weights.values()):
        assert sum(p.amount for p in payouts if p.kind == "miner") == pools["miner"]
    if validators:
        assert sum(p.amount for p in payouts if p.kind == "validator") == pools["validator"]
