"""Signing as a Hedera wallet does (the CLI's dev wallet): ED25519 or ECDSA secp256k1.

ED25519 signs the prefixed message; ECDSA signs its keccak256 and returns the 64-byte
``r || s`` with a low S, as the Hedera SDKs (noble-curves) do.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

from tensornode.auth.signatures import (
    SECP256K1_ORDER,
    KeyType,
    PublicKey,
    hedera_message_bytes,
    keccak256,
)
from tensornode.errors import InvalidInput


@dataclass(frozen=True)
class LocalSigner:
    """A private key held in this process; ``private_raw`` is its 32 bytes."""

    type: KeyType
    private_raw: bytes

    @classmethod
    def generate(cls, key_type: KeyType) -> LocalSigner:
        if key_type == "ed25519":
            private = ed25519.Ed25519PrivateKey.generate()
            return cls(key_type, private.private_bytes_raw())
        key = ec.generate_private_key(ec.SECP256K1())
        return cls(key_type, key.private_numbers().private_value.to_bytes(32, "big"))

    def _ed25519(self) -> ed25519.Ed25519PrivateKey:
        return ed25519.Ed25519PrivateKey.from_private_bytes(self.private_raw)

    def _ecdsa(self) -> ec.EllipticCurvePrivateKey:
        value = int.from_bytes(self.private_raw, "big")
        if not 0 < value < SECP256K1_ORDER:
            raise InvalidInput("the secp256k1 private key is out of range")
        return ec.derive_private_key(value, ec.SECP256K1())

    @property
    def public_key(self) -> PublicKey:
        if self.type == "ed25519":
            return PublicKey("ed25519", self._ed25519().public_key().public_bytes_raw())
        point = (
            self._ecdsa()
            .public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
        )
        return PublicKey("ecdsa_secp256k1", point)

    def sign(self, message: str) -> bytes:
        """The signature of ``message`` in the Hedera signed-message format."""
        payload = hedera_message_bytes(message)
        if self.type == "ed25519":
            return self._ed25519().sign(payload)
        der = self._ecdsa().sign(keccak256(payload), ec.ECDSA(Prehashed(hashes.SHA256())))
        r, s = decode_dss_signature(der)
        s = min(s, SECP256K1_ORDER - s)  # low S, as the SDKs produce
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
