"""Hedera signed messages, pure: the prefix, public keys, signatures, verification.

A wallet signs ``"\\x19Hedera Signed Message:\\n" + len(message) + message`` encoded as
UTF-8, where ``len`` is JavaScript's ``message.length``: UTF-16 code units, so an emoji
counts 2 (hedera-wallet-connect's ``prefixMessageToSign``).

- ED25519 signs those bytes directly (64-byte signature).
- ECDSA secp256k1 signs ``keccak256`` of them: the Hedera SDKs' ``PrivateKey.sign`` for
  ECDSA hashes with keccak256 (hiero-sdk-js ``primitive/ecdsa.js``), and returns the
  64-byte ``r || s``. DER signatures are accepted too; high-S is not refused (a challenge
  is single-use, so malleability buys nothing).

Keys are raw hex (32 bytes ED25519; 33 compressed or 65 uncompressed secp256k1) or DER:
Hedera's own prefixes (``302a300506032b6570032100`` ED25519, ``302d300706052b8104000a032200``
ECDSA compressed) and standard SubjectPublicKeyInfo. Signatures are hex or base64 of
the raw bytes, of DER, or of a protobuf ``SignatureMap`` (what WalletConnect's
``hedera_signMessage`` returns).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

from Crypto.Hash import keccak
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from tensornode.errors import InvalidInput

KeyType = Literal["ed25519", "ecdsa_secp256k1"]

MESSAGE_PREFIX = "\x19Hedera Signed Message:\n"
ED25519_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")
ECDSA_DER_PREFIX = bytes.fromhex("302d300706052b8104000a032200")
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

_HEX = re.compile(r"^(?:0x)?((?:[0-9a-fA-F]{2})+)$")
# SignatureMap { repeated SignaturePair sigPair = 1 }; SignaturePair { bytes pubKeyPrefix = 1;
# oneof { bytes ed25519 = 3; bytes ECDSA_secp256k1 = 6; ... } } (Hedera basic_types.proto)
_SIGNATURE_FIELDS: dict[int, KeyType] = {3: "ed25519", 6: "ecdsa_secp256k1"}


def utf16_length(text: str) -> int:
    """``text.length`` as JavaScript counts it: UTF-16 code units."""
    return sum(2 if ord(char) > 0xFFFF else 1 for char in text)


def hedera_message_bytes(message: str) -> bytes:
    """The bytes a Hedera wallet signs for ``message`` (prefix, UTF-16 length, message)."""
    try:
        return f"{MESSAGE_PREFIX}{utf16_length(message)}{message}".encode()
    except UnicodeEncodeError:
        raise InvalidInput("message is not valid Unicode text (lone surrogate)") from None


def keccak256(data: bytes) -> bytes:
    """Ethereum's keccak256 (not NIST SHA3-256: the padding differs)."""
    return keccak.new(digest_bits=256, data=data).digest()


@dataclass(frozen=True)
class PublicKey:
    """A single ED25519 or secp256k1 key; ``raw`` is 32 bytes or 33 (compressed)."""

    type: KeyType
    raw: bytes

    @property
    def hex(self) -> str:
        return self.raw.hex()

    @property
    def der_hex(self) -> str:
        """Hedera's DER encoding (what the SDKs' ``toStringDer`` prints)."""
        prefix = ED25519_DER_PREFIX if self.type == "ed25519" else ECDSA_DER_PREFIX
        return (prefix + self.raw).hex()


def decode_bytes(text: str, what: str) -> bytes:
    """Hex (optionally ``0x``) or base64 (standard or URL-safe) text as bytes."""
    text = text.strip()
    match = _HEX.fullmatch(text)
    if match:
        return bytes.fromhex(match.group(1))
    try:
        padded = text + "=" * (-len(text) % 4)
        alphabet = b"-_" if ("-" in text or "_" in text) else None
        return base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(f"{what} must be hex or base64") from None


def _ecdsa_key(point: bytes) -> PublicKey:
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), point)
    except ValueError:
        raise InvalidInput("public_key is not a point on secp256k1") from None
    compressed = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    return PublicKey("ecdsa_secp256k1", compressed)


def _from_spki(der: bytes) -> PublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInput(
            "public_key is not an ED25519 or ECDSA secp256k1 key (raw hex or DER)"
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return PublicKey("ed25519", key.public_bytes_raw())
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256K1):
        point = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        return PublicKey("ecdsa_secp256k1", point)
    raise InvalidInput("public_key must be ED25519 or ECDSA secp256k1")


def parse_public_key(text: str, key_type: KeyType | None = None) -> PublicKey:
    """A public key from raw or DER hex (or base64); ``key_type`` settles a raw key's kind."""
    data = decode_bytes(text, "public_key")
    if data.startswith(ED25519_DER_PREFIX) and len(data) == len(ED25519_DER_PREFIX) + 32:
        key = PublicKey("ed25519", data[len(ED25519_DER_PREFIX) :])
    elif data.startswith(ECDSA_DER_PREFIX) and len(data) == len(ECDSA_DER_PREFIX) + 33:
        key = _ecdsa_key(data[len(ECDSA_DER_PREFIX) :])
    elif len(data) == 32:
        key = PublicKey("ed25519", data)
    elif len(data) == 33 or (len(data) == 65 and data[0] == 4):
        key = _ecdsa_key(data)
    elif data[:1] == b"\x30":
        key = _from_spki(data)
    else:
        raise InvalidInput(
            f"public_key of {len(data)} bytes is neither a raw key (32 bytes ED25519, 33 or 65"
            " secp256k1) nor DER"
        )
    if key_type is not None and key.type != key_type:
        raise InvalidInput(f"public_key is {key.type}, not {key_type}")
    return key


@dataclass(frozen=True)
class SignatureCandidate:
    """One signature found in the input; a SignatureMap pair names its type and key prefix."""

    signature: bytes
    type: KeyType | None = None
    key_prefix: bytes = b""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ValueError("truncated varint")


def _length_delimited(data: bytes) -> list[tuple[int, bytes]]:
    """The (field, bytes) of a protobuf message whose fields are all length-delimited."""
    fields: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        tag, pos = _varint(data, pos)
        if tag & 7 != 2:
            raise ValueError("not a length-delimited field")
        size, pos = _varint(data, pos)
        if pos + size > len(data):
            raise ValueError("truncated field")
        fields.append((tag >> 3, data[pos : pos + size]))
        pos += size
    return fields


def _signature_map(data: bytes) -> list[SignatureCandidate]:
    candidates: list[SignatureCandidate] = []
    for number, pair in _length_delimited(data):
        if number != 1:
            raise ValueError("not a SignatureMap")
        fields = dict(_length_delimited(pair))
        for field_number, key_type in _SIGNATURE_FIELDS.items():
            if field_number in fields:
                candidates.append(
                    SignatureCandidate(fields[field_number], key_type, fields.get(1, b""))
                )
    return candidates


def parse_signature(text: str) -> list[SignatureCandidate]:
    """Signatures in hex or base64 text: raw, DER, or a protobuf SignatureMap."""
    data = decode_bytes(text, "signature")
    if len(data) == 64:
        return [SignatureCandidate(data)]
    if data[:1] == b"\x30":
        return [SignatureCandidate(data, "ecdsa_secp256k1")]
    if data[:1] == b"\x0a":
        try:
            candidates = _signature_map(data)
        except ValueError:
            candidates = []
        if candidates:
            return candidates
    raise InvalidInput(
        "signature must be 64 bytes (ED25519, or ECDSA r||s), a DER ECDSA signature or a"
        " Hedera SignatureMap, in hex or base64"
    )


def _verify_ed25519(key: PublicKey, payload: bytes, signature: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        ed25519.Ed25519PublicKey.from_public_bytes(key.raw).verify(signature, payload)
    except InvalidSignature:
        return False
    return True


def _ecdsa_der(signature: bytes) -> bytes | None:
    """DER of a raw ``r || s`` or of a DER signature; None when malformed."""
    if len(signature) == 64:
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    else:
        try:
            r, s = decode_dss_signature(signature)
        except ValueError:
            return None
    if not (0 < r < SECP256K1_ORDER and 0 < s < SECP256K1_ORDER):
        return None
    return encode_dss_signature(r, s)


def _verify_ecdsa(key: PublicKey, payload: bytes, signature: bytes) -> bool:
    der = _ecdsa_der(signature)
    if der is None:
        return False
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), key.raw)
    # The digest is keccak256; Prehashed only needs a 32-byte algorithm to size it.
    try:
        public.verify(der, keccak256(payload), ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature:
        return False
    return True


def verify_message(key: PublicKey, message: str, candidates: list[SignatureCandidate]) -> bool:
    """Whether any candidate is ``key``'s signature of ``message`` as a Hedera wallet signs it."""
    payload = hedera_message_bytes(message)
    for candidate in candidates:
        if candidate.type is not None and candidate.type != key.type:
            continue
        if candidate.key_prefix and not key.raw.startswith(candidate.key_prefix):
            continue
        verify = _verify_ed25519 if key.type == "ed25519" else _verify_ecdsa
        if verify(key, payload, candidate.signature):
            return True
    return False
