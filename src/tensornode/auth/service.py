"""Sign-in without HTTP: challenges, verification, sessions, dev registration.

``AuthService`` is what the ``/auth`` routes call; tests may swap its ``clock`` (UTC
now), ``keys`` (a :class:`~tensornode.auth.keys.KeySource`) or ``faucet``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from tensornode.auth.challenges import (
    IssuedChallenge,
    consume_challenge,
    find_challenge,
    issue_challenge,
)
from tensornode.auth.keys import KeySource, LedgerKeySource, register_key
from tensornode.auth.mirror import MirrorKeySource, MirrorNodeClient
from tensornode.auth.models import AuthSession
from tensornode.auth.ratelimit import SlidingWindowLimiter
from tensornode.auth.sessions import NewSession, active_session, create_session, revoke_session
from tensornode.auth.signatures import PublicKey, parse_public_key, parse_signature, verify_message
from tensornode.config import Settings
from tensornode.coordinator.accounts import get_or_create_account, validate_wallet
from tensornode.db.models import Account, utcnow
from tensornode.db.session import Database
from tensornode.errors import ConfigurationError, Conflict, Forbidden, Unauthenticated

log = logging.getLogger(__name__)

Faucet = Callable[[str, int], int]
"""Gives ``amount`` to an account on the local ledger; returns its balance (blocking)."""

_ACCOUNT_RANGE = (1_000_000, 9_999_999)  # dev accounts the coordinator allocates


@dataclass(frozen=True)
class Registration:
    account_id: str
    key: PublicKey
    created: bool
    funded: int
    balance: int


def ledger_faucet(url: URL, *, dev_mode: bool) -> Faucet:
    """The local ledger's dev faucet on the coordinator's database (a short-lived engine)."""

    def give(account_id: str, amount: int) -> int:
        from tensornode.ledger.database import session_factory, sync_engine
        from tensornode.ledger.local import LocalLedger

        engine = sync_engine(url)
        try:
            ledger = LocalLedger(session_factory(engine), dev_mode=dev_mode)
            if amount > 0:
                ledger.faucet(account_id, amount)
            return ledger.balance(account_id)
        finally:
            engine.dispose()

    return give


class AuthService:
    """Wallet sign-in for one coordinator."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: KeySource,
        *,
        faucet: Faucet | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.config = settings.auth
        self.db = db
        self.keys = keys
        self.faucet = faucet or ledger_faucet(db.url, dev_mode=settings.dev_mode)
        self.clock = clock
        self.ip_limiter = SlidingWindowLimiter(
            self.config.attempts_per_ip, self.config.rate_window_s
        )
        self.account_limiter = SlidingWindowLimiter(
            self.config.attempts_per_account, self.config.rate_window_s
        )

    @classmethod
    def for_coordinator(
        cls, settings: Settings, db: Database, http: httpx.AsyncClient
    ) -> AuthService:
        """The configured key source: the local ledger, or a Hedera mirror node over ``http``."""
        keys: KeySource
        if settings.auth.key_source == "mirror":
            client = MirrorNodeClient(
                settings.auth.mirror_url,
                http=http,
                timeout_s=settings.auth.mirror_timeout_s,
                cache_ttl_s=settings.auth.mirror_cache_ttl_s,
            )
            keys = MirrorKeySource(client)
        else:
            keys = LedgerKeySource(db)
        return cls(settings, db, keys)

    def _limit(self, ip: str | None, account_id: str) -> None:
        """Count a sign-in call before any proof: per address, and per account *from that
        address*, so nobody can lock an account's owner out by failing in its name."""
        if ip is None:
            return
        self.ip_limiter.hit(f"ip:{ip}", f"address {ip}")
        self.account_limiter.hit(
            f"account:{account_id}@{ip}", f"account {account_id} from address {ip}"
        )

    def _challenge_url(self, request_origin: str) -> str:
        """The URI a challenge names: ``auth.public_url``; only dev mode trusts the Host."""
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        if not self.settings.dev_mode:
            raise ConfigurationError("auth.public_url must be set outside dev mode")
        return request_origin

    # -- sign-in -------------------------------------------------------------------------

    async def challenge(
        self, account_id: str, *, url: str, ip: str | None = None
    ) -> IssuedChallenge:
        """Issue a one-time message for ``account_id``, whose key must be known."""
        account_id = validate_wallet(account_id)
        self._limit(ip, account_id)
        await self.keys.public_key(account_id)  # fail now, clearly, for an account without a key
        async with self.db.session() as session:
            return await issue_challenge(
                session,
                account_id=account_id,
                network=self.config.network_name,
                url=self._challenge_url(url),
                now=self.clock(),
                ttl=timedelta(seconds=self.config.challenge_ttl_s),
            )

    async def verify(
        self,
        *,
        account_id: str,
        signature: str,
        challenge_id: str | None = None,
        message: str | None = None,
        public_key: str | None = None,
        ip: str | None = None,
    ) -> NewSession:
        """Check the signed challenge and open a session; 401 saying why when refused."""
        account_id = validate_wallet(account_id)
        self._limit(ip, account_id)
        candidates = parse_signature(signature)
        async with self.db.session() as session:
            challenge = await find_challenge(
                session,
                account_id=account_id,
                challenge_id=challenge_id,
                message=message,
                now=self.clock(),
            )
        key = await self.keys.public_key(account_id)
        if public_key is not None and parse_public_key(public_key) != key:
            raise Unauthenticated(f"public_key is not the key of account {account_id}")
        if not verify_message(key, challenge.message, candidates):
            raise Unauthenticated(
                f"signature does not verify with the {key.type} key of account {account_id}"
                " (expected the Hedera signed-message format of the challenge)"
            )
        now = self.clock()
        async with self.db.session() as session:
            await consume_challenge(session, challenge.id, now)
            await get_or_create_account(session, account_id)
            new = await create_session(
                session, account_id, now=now, ttl=timedelta(seconds=self.config.session_ttl_s)
            )
        log.info("account %s signed in (%s key)", account_id, key.type)
        return new

    async def session(self, token: str) -> AuthSession:
        """The live session of a token (bearer or cookie)."""
        async with self.db.session() as session:
            return await active_session(session, token, now=self.clock())

    async def logout(self, row: AuthSession) -> None:
        async with self.db.session() as session:
            await revoke_session(session, row.id, now=self.clock())

    # -- dev registration ------------------------------------------------------------------

    async def register(
        self, public_key: str, account_id: str | None = None, *, ip: str | None = None
    ) -> Registration:
        """Dev mode: record a wallet's key on the local ledger and fund it from the faucet."""
        if ip is not None:
            self.ip_limiter.hit(f"ip:{ip}", f"address {ip}")
        if not self.settings.dev_mode:
            raise Forbidden(
                "POST /auth/register is only available in dev mode; on Hedera the account's"
                " key is read from the mirror node"
            )
        if not isinstance(self.keys, LedgerKeySource):
            raise Conflict("keys come from the Hedera mirror node here: nothing to register")
        key = parse_public_key(public_key)
        async with self.db.session() as session:
            if account_id is None:
                account_id = await self._free_account(session)
            account_id = validate_wallet(account_id)
            created = await register_key(session, account_id, key)
        funded = self.config.faucet_amount if created else 0
        balance = await asyncio.to_thread(self.faucet, account_id, funded)
        return Registration(account_id, key, created, funded, balance)

    @staticmethod
    async def _free_account(session: AsyncSession) -> str:
        low, high = _ACCOUNT_RANGE
        for _ in range(20):
            candidate = f"0.0.{low + secrets.randbelow(high - low)}"
            if await session.get(Account, candidate) is None:
                return candidate
        raise Conflict("no free dev account id found: try again")
