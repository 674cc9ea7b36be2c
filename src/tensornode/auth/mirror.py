"""A Hedera mirror node client for account keys (``GET /api/v1/accounts/{id}``), cached.

The mirror node answers ``{"account": "0.0.N", "key": {"_type": T, "key": HEX}, ...}``
where ``T`` is ``ED25519`` (32-byte key), ``ECDSA_SECP256K1`` (33-byte compressed key)
or ``ProtobufEncoded`` (a threshold key or key list, protobuf-encoded), and errors as
``{"_status": {"messages": [{"message": "Not found"}]}}`` with 404 (unknown account) or
400 (malformed id). Only single keys can sign in; the rest is refused by name.

The HTTP client is injected (``httpx.AsyncClient``, any transport), so tests run it
against ``tests/fakes/mirror_node.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tensornode.auth.signatures import KeyType, PublicKey, parse_public_key
from tensornode.errors import InvalidInput, TensorNodeError, Unauthenticated, UpstreamError

_KEY_TYPES: dict[str, KeyType] = {"ED25519": "ed25519", "ECDSA_SECP256K1": "ecdsa_secp256k1"}


def _mirror_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        messages = body["_status"]["messages"]
        return "; ".join(str(m["message"]) for m in messages) or response.reason_phrase
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.reason_phrase}"


class MirrorNodeClient:
    """Account keys from a mirror node, cached for ``cache_ttl_s`` seconds."""

    def __init__(
        self,
        base_url: str,
        *,
        http: httpx.AsyncClient,
        timeout_s: float = 10.0,
        cache_ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = http
        self.timeout_s = timeout_s
        self.cache_ttl_s = cache_ttl_s
        self.clock = clock
        self._cache: dict[str, tuple[float, PublicKey]] = {}

    async def account_key(self, account_id: str) -> PublicKey:
        """The account's single public key, from the cache while fresh."""
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        key = await self._fetch(account_id)
        if self.cache_ttl_s > 0:
            self._cache[account_id] = (self.clock() + self.cache_ttl_s, key)
        return key

    async def _fetch(self, account_id: str) -> PublicKey:
        url = f"{self.base_url}/api/v1/accounts/{account_id}"
        try:
            response = await self.http.get(url, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"the Hedera mirror node at {self.base_url} cannot be reached"
                f" ({type(exc).__name__})"
            ) from None
        if response.status_code == 404:
            raise Unauthenticated(
                f"account {account_id} does not exist on the Hedera network"
                f" (mirror node: {_mirror_message(response)})"
            )
        if response.status_code == 400:
            raise InvalidInput(
                f"the mirror node refused account id {account_id!r}: {_mirror_message(response)}"
            )
        if response.status_code != 200:
            raise UpstreamError(
                f"the Hedera mirror node answered {response.status_code} for account {account_id}"
            )
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError(
                "the Hedera mirror node answered something that is not JSON"
            ) from None
        return self._key(account_id, body)

    @staticmethod
    def _key(account_id: str, body: Any) -> PublicKey:
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, dict):
            raise Unauthenticated(f"account {account_id} has no key on the Hedera network")
        kind, value = key.get("_type"), key.get("key")
        if kind == "ProtobufEncoded":
            raise Unauthenticated(
                f"account {account_id} is controlled by a threshold key or key list"
                " (ProtobufEncoded): sign-in needs an account with a single ED25519 or"
                " ECDSA secp256k1 key"
            )
        if kind not in _KEY_TYPES or not isinstance(value, str):
            raise UpstreamError(
                f"the mirror node gave account {account_id} an unknown key type {kind!r}"
            )
        try:
            return parse_public_key(value, _KEY_TYPES[kind])
        except TensorNodeError:
            raise UpstreamError(
                f"the mirror node gave account {account_id} a malformed key"
            ) from None


class MirrorKeySource:
    """:class:`~tensornode.auth.keys.KeySource` backed by a Hedera mirror node."""

    def __init__(self, client: MirrorNodeClient) -> None:
        self.client = client

    async def public_key(self, account_id: str) -> PublicKey:
        return await self.client.account_key(account_id)
