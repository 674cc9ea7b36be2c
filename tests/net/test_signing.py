"""Coordinator-signed requests: bound to the target miner, the body and the time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tensornode.errors import ConfigurationError, Unauthenticated
from tensornode.net.signing import KEY_FILE, RequestSigner, RequestVerifier

MINER = "http://10.0.0.5:3000"
BODY = b'{"prompt":"hi","temperature":0.7,"max_tokens":100}'


def _pair(now: float = 1_000_000.0) -> tuple[RequestSigner, RequestVerifier]:
    signer = RequestSigner.generate()
    signer._clock = lambda: now  # type: ignore[method-assign]
    return signer, RequestVerifier(signer.public_key, MINER + "/", clock=lambda: now + 30)


def test_a_request_signed_for_this_miner_passes() -> None:
    signer, verifier = _pair()
    verifier.check(signer.header(MINER, BODY), BODY)


def test_relayed_tampered_stale_or_unsigned_requests_are_refused() -> None:
    signer, verifier = _pair()
    cases = {
        "missing X-TensorNode-Signature": None,
        "malformed X-TensorNode-Signature": "garbage",
        "not for this miner": signer.header("http://10.0.0.6:3000", BODY),  # a relay
        "bad request signature": signer.header(MINER, BODY).replace("t=1000000", "t=1000001"),
    }
    for reason, header in cases.items():
        with pytest.raises(Unauthenticated, match=reason):
            verifier.check(header, BODY)
    with pytest.raises(Unauthenticated, match="bad request signature"):
        verifier.check(signer.header(MINER, BODY), BODY.replace(b"hi", b"ho"))
    stale = RequestVerifier(signer.public_key, MINER, clock=lambda: 1_000_000.0 + 600)
    with pytest.raises(Unauthenticated, match="expired"):
        stale.check(signer.header(MINER, BODY), BODY)
    stranger = RequestSigner.generate()
    stranger._clock = lambda: 1_000_000.0  # type: ignore[method-assign]
    with pytest.raises(Unauthenticated, match="bad request signature"):
        verifier.check(stranger.header(MINER, BODY), BODY)


def test_the_key_is_made_once_private_and_kept(tmp_path: Path) -> None:
    first = RequestSigner.load_or_create(tmp_path / "data")
    again = RequestSigner.load_or_create(tmp_path / "data")
    assert first.public_key == again.public_key
    assert first.derive("seeds") == again.derive("seeds") != first.derive("other")
    assert (tmp_path / "data" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    (tmp_path / "data" / KEY_FILE).write_bytes(b"short")
    with pytest.raises(ConfigurationError, match="not a raw Ed25519 private key"):
        RequestSigner.load_or_create(tmp_path / "data")
    with pytest.raises(ConfigurationError, match="not an Ed25519 public key"):
        RequestVerifier("not-a-key", MINER)
