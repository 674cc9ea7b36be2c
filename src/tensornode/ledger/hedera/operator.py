"""The treasury operator: the account that pays rewards and fees, and its private key.

The key comes from ``TENSORNODE_HEDERA__OPERATOR_KEY`` or from a file named by
``TENSORNODE_HEDERA__OPERATOR_KEY_FILE`` that only its owner may read (mode 0600 or
stricter). It is held as a :class:`~pydantic.SecretStr` until the SDK parses it, and
neither the key nor any part of it appears in a log line, an error or a ``repr``.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensornode.config import HederaSettings
from tensornode.errors import ConfigurationError


@dataclass(frozen=True)
class Operator:
    """An account id and its parsed SDK private key (``key`` is left out of ``repr``)."""

    account_id: str
    key: Any = field(repr=False)

    def public_key_hex(self) -> str:
        """The raw public key, hex (what the mirror node shows as ``key.key``)."""
        return str(self.key.public_key().to_bytes_raw().hex())


def _read_key_file(path: Path) -> str:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read the operator key file {path}: {exc.strerror}"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the operator key file {path} is open to others (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path}"
        )
    return path.read_text(encoding="utf-8").strip()


def _parse_key(text: str) -> Any:
    from hiero_sdk_python.crypto.private_key import PrivateKey

    try:
        return PrivateKey.from_string(text)
    except (ValueError, TypeError):  # the SDK's message may quote the key: say nothing
        raise ConfigurationError(
            "the Hedera operator key is not a private key (DER or raw hex, ED25519 or ECDSA)"
        ) from None


def load_operator(settings: HederaSettings) -> Operator:
    """The configured operator, or :class:`ConfigurationError` saying what is missing."""
    if settings.operator_id is None:
        raise ConfigurationError("set TENSORNODE_HEDERA__OPERATOR_ID (the treasury account)")
    if settings.operator_key is not None and settings.operator_key_file is not None:
        raise ConfigurationError("set OPERATOR_KEY or OPERATOR_KEY_FILE for Hedera, not both")
    if settings.operator_key is not None:
        text = settings.operator_key.get_secret_value().strip()
    elif settings.operator_key_file is not None:
        text = _read_key_file(settings.operator_key_file)
    else:
        raise ConfigurationError(
            "set TENSORNODE_HEDERA__OPERATOR_KEY or TENSORNODE_HEDERA__OPERATOR_KEY_FILE"
        )
    return Operator(settings.operator_id, _parse_key(text))
