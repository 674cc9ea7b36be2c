"""Splitting an epoch's emission into payouts: integers only, summing exactly to the emission.

The emission is first cut into three pools by the configured percentages (miners,
validators, treasury), then:

- the miners' pool is shared by score: each payee account's weight is the sum of its
  miners' :func:`score_weight` (integer micro-points of the total score);
- the validators' pool is shared equally among the validators that completed rounds;
- the treasury gets its pool, plus any pool nobody can claim: the miners' pool when no
  miner has a positive score, the validators' pool when no validator completed a round.

Every cut uses the largest-remainder method: floor each exact share, then hand the units
left over one by one to the largest fractional remainders, ties broken by key (account
id) in ascending order. The result is a deterministic function of its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from tensornode.errors import InvalidInput

PayoutKind = Literal["miner", "validator", "treasury"]
PAYOUT_KINDS: tuple[PayoutKind, ...] = ("miner", "validator", "treasury")

SCORE_POINTS_PER_UNIT = 1_000_000
"""Resolution of a score as a payout weight: a total of 0.8731 weighs 873,100 points."""


@dataclass(frozen=True)
class SplitPercents:
    """Integer percentages of the emission for each pool; they sum to 100."""

    miners: int
    validators: int
    treasury: int

    def __post_init__(self) -> None:
        for name in ("miners", "validators", "treasury"):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value <= 100:
                raise InvalidInput(f"{name} percent must be an integer in 0..100, got {value!r}")
        if self.miners + self.validators + self.treasury != 100:
            raise InvalidInput(
                "split percentages must sum to 100, got "
                f"{self.miners} + {self.validators} + {self.treasury}"
            )


@dataclass(frozen=True, order=True)
class Payout:
    """One amount owed to one account for one reason (``kind``) in an epoch."""

    account: str
    kind: PayoutKind
    amount: int


def _check_total(total: int) -> None:
    if type(total) is not int or total < 0:
        raise InvalidInput(f"the amount to split must be a non-negative integer, got {total!r}")


def _check_weight(key: str, weight: Fraction | int) -> Fraction:
    if type(weight) is not int and not isinstance(weight, Fraction):
        raise InvalidInput(f"weight of {key} must be an int or a Fraction, got {weight!r}")
    if weight < 0:
        raise InvalidInput(f"weight of {key} must not be negative, got {weight}")
    return Fraction(weight)


def largest_remainder(total: int, weights: Mapping[str, Fraction | int]) -> dict[str, int]:
    """Split ``total`` units in proportion to ``weights``; the shares sum to ``total``.

    Every key of ``weights`` is in the result (zero weights get 0). Raises
    :class:`InvalidInput` on a negative or non-integer total, a negative or float weight,
    or a positive total with no positive weight to give it to.
    """
    _check_total(total)
    exact = {key: _check_weight(key, weight) for key, weight in weights.items()}
    weight_sum = sum(exact.values(), Fraction(0))
    if weight_sum == 0:
        if total == 0:
            return dict.fromkeys(exact, 0)
        raise InvalidInput(f"cannot split {total}: no positive weight")
    shares: dict[str, int] = {}
    remainders: dict[str, Fraction] = {}
    for key, weight in exact.items():
        quota = total * weight / weight_sum
        shares[key] = math.floor(quota)
        remainders[key] = quota - shares[key]
    left = total - sum(shares.values())
    # Only keys with a non-zero remainder can be picked: their remainders sum to ``left``.
    for key in sorted(remainders, key=lambda k: (-remainders[k], k))[:left]:
        shares[key] += 1
    return shares


def score_weight(total_score: float) -> int:
    """A miner's payout weight: its total score in integer micro-points (half to even).

    Computed from the float's exact binary value, so anyone re-deriving it from a
    published report gets the same integer.
    """
    if isinstance(total_score, bool) or not isinstance(total_score, int | float):
        raise InvalidInput(f"a score must be a number, got {total_score!r}")
    if not math.isfinite(total_score) or total_score < 0:
        raise InvalidInput(f"a score must be finite and non-negative, got {total_score!r}")
    return round(Fraction(total_score) * SCORE_POINTS_PER_UNIT)


def pool_amounts(emission: int, percents: SplitPercents) -> dict[PayoutKind, int]:
    """Cut the emission into the miners', validators' and treasury's pools."""
    cut = largest_remainder(
        emission,
        {"miner": percents.miners, "validator": percents.validators, "treasury": percents.treasury},
    )
    return {kind: cut[kind] for kind in PAYOUT_KINDS}


def split_emission(
    emission: int,
    percents: SplitPercents,
    *,
    miner_weights: Mapping[str, Fraction | int],
    validators: Iterable[str],
    treasury_account: str,
) -> list[Payout]:
    """Every positive payout of an epoch, sorted by (account, kind); sums to ``emission``.

    ``miner_weights`` maps payee accounts to their summed score weights; ``validators``
    names the accounts that completed rounds (duplicates count once).
    """
    pools = pool_amounts(emission, percents)
    to_treasury = pools["treasury"]
    payouts: list[Payout] = []

    positive = {account: w for account, w in miner_weights.items() if _check_weight(account, w)}
    if positive and pools["miner"]:
        shares = largest_remainder(pools["miner"], positive)
        payouts += [Payout(a, "miner", n) for a, n in shares.items() if n > 0]
    else:
        to_treasury += pools["miner"]

    equal = dict.fromkeys(set(validators), 1)
    if equal and pools["validator"]:
        shares = largest_remainder(pools["validator"], equal)
        payouts += [Payout(a, "validator", n) for a, n in shares.items() if n > 0]
    else:
        to_treasury += pools["validator"]

    if to_treasury:
        payouts.append(Payout(treasury_account, "treasury", to_treasury))
    return sorted(payouts)
