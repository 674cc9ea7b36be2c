"""The Hedera signed-message format, keys and signatures, without a coordinator."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization

from tensornode.auth.signatures import (
    hedera_message_bytes,
    keccak256,
    parse_public_key,
    parse_signature,
    utf16_length,
    verify_message,
)
from tensornode.auth.signing import LocalSigner
from tensornode.errors import InvalidInput

from .wallets import EcdsaWallet, Ed25519Wallet, signature_map


def test_prefix_counts_utf16_code_units_like_javascript() -> None:
    # "hi 👋": 4 code points, 5 UTF-16 code units (the emoji is a surrogate pair), 7 UTF-8 bytes
    message = "hi \U0001f44b"
    assert (len(message), utf16_length(message), len(message.encode())) == (4, 5, 7)
    assert hedera_message_bytes(message) == (
        b"\x19Hedera Signed Message:\n" + b"5" + b"hi \xf0\x9f\x91\x8b"
    )
    # BMP-only text: "é" is 1 unit, 2 bytes
    assert hedera_message_bytes("caf\u00e9") == b"\x19Hedera Signed Message:\n4caf\xc3\xa9"
    # ten rockets: 10 code points, 20 units -> "20"
    assert hedera_message_bytes("\U0001f680" * 10).startswith(b"\x19Hedera Signed Message:\n20")


def test_keccak256_is_ethereums_not_sha3() -> None:
    assert keccak256(b"").hex() == (
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    )
    assert keccak256(b"abc").hex() == (
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
    )


def test_public_keys_parse_from_hedera_der_and_raw_hex() -> None:
    # the public keys printed in Hedera's "generate a key pair" documentation
    ed = parse_public_key(
        "302a300506032b65700321001a5a62bb9f35990d3fea1a5bb7ef6f1df0a297697adef1e04510c9d4ecc5db3f"
    )
    assert (ed.type, ed.hex) == (
        "ed25519",
        "1a5a62bb9f35990d3fea1a5bb7ef6f1df0a297697adef1e04510c9d4ecc5db3f",
    )
    ecdsa = parse_public_key(
        "302d300706052b8104000a03220002e1f3b3bad1e0d97ed129725efaa4fc0289735a9f355438d2619676f1ff3f30dd"
    )
    assert (ecdsa.type, ecdsa.hex) == (
        "ecdsa_secp256k1",
        "02e1f3b3bad1e0d97ed129725efaa4fc0289735a9f355438d2619676f1ff3f30dd",
    )
    assert parse_public_key("0x" + ecdsa.hex) == ecdsa
    assert parse_public_key(ecdsa.der_hex) == ecdsa
    assert parse_public_key(ed.der_hex) == ed


def test_uncompressed_and_standard_spki_keys_normalise_to_compressed() -> None:
    wallet = EcdsaWallet()
    uncompressed = wallet.private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    spki = wallet.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert parse_public_key(uncompressed.hex()).hex == wallet.public_hex
    assert parse_public_key(spki.hex()).hex == wallet.public_hex
    assert parse_public_key(base64.b64encode(spki).decode()).hex == wallet.public_hex


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("zz-not-a-key!", "public_key must be hex or base64"),
        ("ab" * 20, "public_key of 20 bytes is neither a raw key"),
        ("02" + "ff" * 32, "public_key is not a point on secp256k1"),
    ],
)
def test_bad_public_keys_are_refused_by_name(text: str, error: str) -> None:
    with pytest.raises(InvalidInput, match=error):
        parse_public_key(text)


def test_ed25519_signature_over_prefixed_message_verifies() -> None:
    wallet = Ed25519Wallet()
    key = parse_public_key(wallet.public_der)
    message = "sign in \U0001f510 please"
    signature = wallet.sign(message)
    assert verify_message(key, message, parse_signature(signature.hex()))
    assert verify_message(key, message, parse_signature(base64.b64encode(signature).decode()))
    assert not verify_message(key, message + ".", parse_signature(signature.hex()))
    # a wallet that counted code points instead of UTF-16 units signed other bytes
    wrong_prefix = wallet.private.sign(
        b"\x19Hedera Signed Message:\n" + str(len(message)).encode() + message.encode()
    )
    assert not verify_message(key, message, parse_signature(wrong_prefix.hex()))
    unprefixed = wallet.private.sign(message.encode())
    assert not verify_message(key, message, parse_signature(unprefixed.hex()))


def test_ecdsa_signs_keccak256_raw_or_der() -> None:
    wallet = EcdsaWallet()
    key = parse_public_key(wallet.public_hex)
    message = "TensorNode \U0001f680 challenge"
    assert verify_message(key, message, parse_signature(wallet.sign(message).hex()))
    assert verify_message(key, message, parse_signature(wallet.sign_der(message).hex()))
    sha256_signed = wallet.sign(message, digest="sha256")
    assert not verify_message(key, message, parse_signature(sha256_signed.hex()))
    other = EcdsaWallet()
    assert not verify_message(key, message, parse_signature(other.sign(message).hex()))


def test_signature_maps_from_walletconnect_are_read() -> None:
    ed = Ed25519Wallet()
    message = "hello"
    raw_public = bytes.fromhex(ed.public_hex)
    sig_map = signature_map(raw_public, ed.sign(message), 3)
    key = parse_public_key(ed.public_hex)
    assert verify_message(key, message, parse_signature(base64.b64encode(sig_map).decode()))
    # a pair for another key (prefix mismatch) does not count
    other = signature_map(b"\x00" * 32, ed.sign(message), 3)
    assert not verify_message(key, message, parse_signature(base64.b64encode(other).decode()))
    ecdsa = EcdsaWallet()
    ecdsa_map = signature_map(bytes.fromhex(ecdsa.public_hex), ecdsa.sign(message), 6)
    assert verify_message(
        parse_public_key(ecdsa.public_hex), message, parse_signature(ecdsa_map.hex())
    )


def test_malformed_signatures_are_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match="signature must be 64 bytes"):
        parse_signature("ab" * 10)
    with pytest.raises(InvalidInput, match="signature must be hex or base64"):
        parse_signature("not a signature!")


@pytest.mark.parametrize("key_type", ["ed25519", "ecdsa_secp256k1"])
def test_local_signer_signs_what_the_verifier_accepts(key_type: str) -> None:
    signer = LocalSigner.generate(key_type)  # type: ignore[arg-type]
    message = "wallet \U0001f9ea"
    signature = signer.sign(message)
    assert len(signature) == 64
    assert verify_message(signer.public_key, message, parse_signature(signature.hex()))
    if key_type == "ecdsa_secp256k1":  # low S, as the Hedera SDKs produce
        assert int.from_bytes(signature[32:], "big") <= (
            0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
        )
