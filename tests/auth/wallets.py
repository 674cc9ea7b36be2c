"""Test wallets with keys made at run time, signing independently of the code under test.

The Hedera prefix and the ECDSA keccak256 signing are written out again here (from the
wallets' documented behaviour), so a bug in ``tensornode.auth`` cannot agree with itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from Crypto.Hash import keccak
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def wallet_bytes(message: str) -> bytes:
    """What HashPack signs: '\\x19Hedera Signed Message:\\n' + message.length + message."""
    js_length = len(message.encode("utf-16-le")) // 2
    return ("\x19Hedera Signed Message:\n" + str(js_length) + message).encode("utf-8")


@dataclass
class Ed25519Wallet:
    private: ed25519.Ed25519PrivateKey = field(default_factory=ed25519.Ed25519PrivateKey.generate)
    type: str = "ed25519"
    mirror_type: str = "ED25519"

    @property
    def public_hex(self) -> str:
        return self.private.public_key().public_bytes_raw().hex()

    @property
    def public_der(self) -> str:
        return "302a300506032b6570032100" + self.public_hex

    def sign(self, message: str) -> bytes:
        return self.private.sign(wallet_bytes(message))


@dataclass
class EcdsaWallet:
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256K1())
    )
    type: str = "ecdsa_secp256k1"
    mirror_type: str = "ECDSA_SECP256K1"

    @property
    def public_hex(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
            .hex()
        )

    @property
    def public_der(self) -> str:
        return "302d300706052b8104000a032200" + self.public_hex

    def sign_der(self, message: str, *, digest: str = "keccak256") -> bytes:
        payload = wallet_bytes(message)
        if digest == "keccak256":
            hashed = keccak.new(digest_bits=256, data=payload).digest()
        else:
            import hashlib

            hashed = hashlib.sha256(payload).digest()
        return self.private.sign(hashed, ec.ECDSA(Prehashed(hashes.SHA256())))

    def sign(self, message: str, *, digest: str = "keccak256") -> bytes:
        """64-byte r || s with low S, as the Hedera SDKs return."""
        r, s = decode_dss_signature(self.sign_der(message, digest=digest))
        s = min(s, ORDER - s)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


Wallet = Ed25519Wallet | EcdsaWallet


def signature_map(public_raw: bytes, signature: bytes, field_number: int) -> bytes:
    """A protobuf SignatureMap with one SignaturePair (as WalletConnect returns)."""

    def delimited(number: int, value: bytes) -> bytes:
        assert len(value) < 128  # one-byte varint lengths are enough here
        return bytes([number << 3 | 2, len(value)]) + value

    return delimited(1, delimited(1, public_raw) + delimited(field_number, signature))
