"""Wallet sign-in (``/auth``): request and response bodies; no logic lives here.

camelCase on the wire (``accountId``, ``challengeId``, ``publicKey``), snake_case also
accepted on input. Times are UTC ISO 8601.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from tensornode.contracts.coordinator import WireModel

AccountId = str


class ChallengeRequest(WireModel):
    """``POST /auth/challenge``."""

    account_id: AccountId = Field(max_length=40, examples=["0.0.123456"])


class ChallengePublic(WireModel):
    """A one-time message to sign with the account's key before ``expires_at``."""

    challenge_id: str
    account_id: AccountId
    message: str
    issued_at: datetime
    expires_at: datetime


class VerifyRequest(WireModel):
    """``POST /auth/verify``: the challenge (by id or exact text) and its signature."""

    account_id: AccountId = Field(max_length=40)
    challenge_id: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=4000)
    signature: str = Field(
        min_length=1,
        max_length=4096,
        description="hex or base64: 64 raw bytes, DER ECDSA, or a Hedera SignatureMap",
    )
    public_key: str | None = Field(
        None, max_length=400, description="optional; must be the account's key if sent"
    )


class SessionPublic(WireModel):
    """A new session: ``token`` is the CLI's bearer; browsers get it as an HttpOnly cookie."""

    account_id: AccountId
    token: str
    token_type: Literal["bearer"] = "bearer"
    csrf_token: str
    expires_at: datetime


class SessionInfo(WireModel):
    """``GET /auth/session``: who the current session belongs to."""

    account_id: AccountId
    expires_at: datetime
    via: Literal["cookie", "bearer"]


class LogoutPublic(WireModel):
    revoked: bool


class RegisterRequest(WireModel):
    """``POST /auth/register`` (dev mode): a wallet's public key, and an account id or none."""

    account_id: AccountId | None = Field(None, max_length=40)
    public_key: str = Field(min_length=1, max_length=400, description="raw or DER hex")


class RegistrationPublic(WireModel):
    """The account a key now signs for, and what the dev faucet gave it."""

    account_id: AccountId
    key_type: Literal["ed25519", "ecdsa_secp256k1"]
    public_key: str
    public_key_der: str
    created: bool
    funded: int
    balance: int
    unit: str
