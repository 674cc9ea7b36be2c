"""Coordinator-signed requests to miners: relaying to another miner does not pay.

The coordinator holds one Ed25519 key (``data_dir/coordinator-request.key``, made on
first start, mode 0600) and publishes its public key at ``GET /network/key``. Every chat
request the gateway or the validator sends to a miner carries one header::

    X-TensorNode-Signature: t=<unix seconds>,m=<miner endpoint>,s=<base64url signature>

signing ``tensornode-miner-request/v1``, the target miner's endpoint (its registered
base URL: known before registration, so the registration check signs too), the time and
the body's sha256. A miner that enforces it (the reference miner with
``miner.coordinator_key`` and ``miner.public_url`` set) answers only requests signed for
*its own* endpoint within ``MAX_SKEW_S`` seconds: a miner that relays a validator's
challenge to another network miner gets 401 back, so a relay earns nothing. Probes and
user requests carry the same header, so it tells a miner nothing about who is asking.

The same key derives the coordinator's private HMAC keys (:meth:`RequestSigner.derive`),
e.g. for the seeds it issues to validators.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tensornode.errors import ConfigurationError, Unauthenticated

HEADER = "X-TensorNode-Signature"
MAX_SKEW_S = 120
KEY_FILE = "coordinator-request.key"
_DOMAIN = b"tensornode-miner-request/v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def endpoint_id(url: str) -> str:
    """A miner's identity in signatures: its base URL, without a trailing slash."""
    return url.strip().rstrip("/")


def _message(endpoint: str, at: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return b"\n".join((_DOMAIN, endpoint.encode(), str(at).encode(), digest.encode()))


class RequestSigner:
    """Signs requests for one target miner at a time (the coordinator's side)."""

    def __init__(self, key: Ed25519PrivateKey, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key
        self._clock = clock
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public_key = _b64(raw)

    @classmethod
    def generate(cls) -> RequestSigner:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, data_dir: Path) -> RequestSigner:
        """The key in ``data_dir`` (created 0600 on first use)."""
        path = data_dir / KEY_FILE
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            raw = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(raw)
        raw = path.read_bytes()
        if len(raw) != 32:
            raise ConfigurationError(f"{path} is not a raw Ed25519 private key (32 bytes)")
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def header(self, endpoint: str, body: bytes) -> str:
        """The :data:`HEADER` value for ``body`` sent now to the miner at ``endpoint``."""
        at = int(self._clock())
        target = endpoint_id(endpoint)
        signature = self._key.sign(_message(target, at, body))
        return f"t={at},m={target},s={_b64(signature)}"

    def derive(self, label: str) -> bytes:
        """A private 32-byte key for ``label`` (HMAC keys), stable across restarts."""
        raw = self._key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return hmac.new(raw, f"tensornode-derive/{label}".encode(), hashlib.sha256).digest()


class RequestVerifier:
    """Checks :data:`HEADER` on a miner (the miner's side)."""

    def __init__(
        self,
        public_key: str,
        endpoint: str,
        *,
        clock: Callable[[], float] = time.time,
        max_skew_s: float = MAX_SKEW_S,
    ) -> None:
        try:
            self._key = Ed25519PublicKey.from_public_bytes(_unb64(public_key))
        except ValueError:
            raise ConfigurationError(
                "miner.coordinator_key is not an Ed25519 public key (base64url, 32 bytes; "
                "GET /network/key on the coordinator gives it)"
            ) from None
        self.endpoint = endpoint_id(endpoint)
        self._clock = clock
        self._max_skew_s = max_skew_s

    def check(self, header: str | None, body: bytes) -> None:
        """Return if ``header`` signs ``body`` for this miner now; 401 otherwise."""
        if not header:
            raise Unauthenticated(f"missing {HEADER}: this miner answers coordinator requests")
        try:
            at_part, rest = header.split(",", 1)
            target_part, signature_part = rest.rsplit(",", 1)
            if not (
                at_part.startswith("t=")
                and target_part.startswith("m=")
                and signature_part.startswith("s=")
            ):
                raise ValueError(header)
            at = int(at_part[2:])
            target = target_part[2:]
            signature = _unb64(signature_part[2:])
        except ValueError:
            raise Unauthenticated(f"malformed {HEADER}") from None
        if target != self.endpoint:
            raise Unauthenticated(f"request signed for {target}, not for this miner")
        if abs(self._clock() - at) > self._max_skew_s:
            raise Unauthenticated("request signature expired (check the clock)")
        try:
            self._key.verify(signature, _message(target, at, body))
        except InvalidSignature:
            raise Unauthenticated("bad request signature") from None
