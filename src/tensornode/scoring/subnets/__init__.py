"""Subnets: a model category's challenge mix, round size and component weights.

Each subnet is one module exposing ``SUBNET``; :data:`SUBNETS` registers them. Vision,
speech and translation will be new modules with their own challenge families.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from tensornode.errors import NotFound
from tensornode.scoring.challenges import FAMILIES
from tensornode.scoring.schemas import ComponentWeights


@dataclass(frozen=True, slots=True)
class Subnet:
    """A category of miners scored alike.

    ``mix`` gives each challenge family's share of a round; ``pass_threshold`` is the
    challenge score from which an answer counts as passed (and earns speed credit).
    """

    name: str
    mix: Mapping[str, float]
    challenges_per_round: int = 8
    weights: ComponentWeights = field(default_factory=ComponentWeights)
    pass_threshold: float = 0.5

    def __post_init__(self) -> None:
        unknown = set(self.mix) - set(FAMILIES)
        if unknown:
            raise ValueError(f"subnet {self.name}: unknown challenge families {sorted(unknown)}")
        if not self.mix or any(w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError(f"subnet {self.name}: the mix needs positive shares")

    def with_weights(self, weights: ComponentWeights) -> Subnet:
        """The same subnet with other component weights (from settings)."""
        return replace(self, weights=weights)

    def pick_families(
        self, rng: random.Random, n: int | None = None, *, exclude: tuple[str, ...] = ()
    ) -> list[str]:
        """``n`` family names in the mix's proportions (largest remainder), shuffled;
        ``exclude``d families' shares go to the others."""
        count = self.challenges_per_round if n is None else n
        mix = {name: share for name, share in self.mix.items() if name not in exclude}
        if not mix or sum(mix.values()) <= 0:
            raise ValueError(f"subnet {self.name}: nothing left in the mix without {exclude}")
        total = sum(mix.values())
        quotas = {name: count * share / total for name, share in sorted(mix.items())}
        picked = {name: int(q) for name, q in quotas.items()}
        by_remainder = sorted(quotas, key=lambda k: (picked[k] - quotas[k], k))
        for name in by_remainder[: count - sum(picked.values())]:
            picked[name] += 1
        names = [name for name, k in picked.items() for _ in range(k)]
        rng.shuffle(names)
        return names


def _registry() -> dict[str, Subnet]:
    from tensornode.scoring.subnets import llm

    return {s.name: s for s in (llm.SUBNET,)}


SUBNETS: dict[str, Subnet] = _registry()


def get_subnet(name: str) -> Subnet:
    """The registered subnet called ``name``; :class:`NotFound` otherwise."""
    try:
        return SUBNETS[name]
    except KeyError:
        raise NotFound(f"unknown subnet {name!r}; known: {', '.join(sorted(SUBNETS))}") from None


__all__ = ["SUBNETS", "Subnet", "get_subnet"]
