"""Seeds the coordinator issues to validators: no validator picks its own round.

``GET /validation/targets`` hands a registered validator a fresh secret seed with the
time it was issued and a *ticket*: an HMAC (the coordinator's private key, see
:meth:`~tensornode.net.signing.RequestSigner.derive`) over the validator, the subnet,
the seed, the time and every eligible miner. ``POST /validation/rounds`` accepts a round
only with a valid ticket, younger than ``validator.seed_ttl_s``, covering exactly those
miners: a validator cannot try seeds until one favours a miner, nor leave miners out.
Stateless: nothing is stored until the round is (its id, a digest of the seed, is
unique, so a seed is used once).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from tensornode.errors import Forbidden, InvalidInput


@dataclass(frozen=True, slots=True)
class IssuedSeed:
    seed: int
    issued_at: datetime
    ticket: str


class SeedIssuer:
    """Issues and checks round seeds (see the module docstring)."""

    def __init__(self, key: bytes, ttl_s: float) -> None:
        self._key = key
        self.ttl = timedelta(seconds=ttl_s)

    def _ticket(
        self, validator: str, subnet: str, seed: int, issued_at: datetime, miners: Collection[str]
    ) -> str:
        text = "|".join(
            (validator, subnet, str(seed), issued_at.isoformat(), ",".join(sorted(miners)))
        )
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()

    def issue(
        self, validator: str, subnet: str, miners: Collection[str], now: datetime
    ) -> IssuedSeed:
        """A fresh seed for ``validator``'s next round over ``miners``."""
        seed = secrets.randbits(128)
        return IssuedSeed(seed, now, self._ticket(validator, subnet, seed, now, miners))

    def check(
        self,
        validator: str,
        subnet: str,
        seed: int,
        issued_at: datetime,
        ticket: str,
        miners: Collection[str],
        now: datetime,
    ) -> None:
        """Return if the round may be stored; 403 for a seed not issued, 400 otherwise."""
        if issued_at.tzinfo is None:
            raise InvalidInput("issuedAt needs a UTC offset (ISO 8601)")
        expected = self._ticket(validator, subnet, seed, issued_at, miners)
        if not hmac.compare_digest(expected, ticket):
            raise Forbidden(
                "the round does not match a seed this coordinator issued to you: use the "
                "seed from GET /validation/targets and probe every miner it listed"
            )
        if now - issued_at > self.ttl:
            raise InvalidInput(
                f"the seed expired ({int(self.ttl.total_seconds())} s after it was issued)"
            )
