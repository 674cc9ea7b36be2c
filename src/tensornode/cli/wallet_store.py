"""The CLI dev wallet's files: ``<data dir>/wallet/key.json`` and ``session.json``.

Both hold secrets, so the folder is 0700 and the files 0600, written atomically; a file
or folder that others can read or write is refused when loaded (as OpenSSH refuses a
private key readable by others), with the ``chmod`` that fixes it.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tensornode.auth.signing import LocalSigner
from tensornode.config import load_settings
from tensornode.errors import ConfigurationError

WALLET_DIR = "wallet"
KEY_FILE = "key.json"
SESSION_FILE = "session.json"


@dataclass(frozen=True)
class StoredWallet:
    """The dev wallet: its key, and the account and coordinator it was registered with."""

    signer: LocalSigner
    account_id: str | None
    coordinator: str | None


def wallet_dir(data_dir: Path) -> Path:
    return data_dir / WALLET_DIR


def _check_private(path: Path, *, folder: bool) -> None:
    info = path.stat()
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        wanted = "700" if folder else "600"
        raise ConfigurationError(
            f"{path} has mode {mode:04o}: others may read it; run chmod {wanted} {path}"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ConfigurationError(f"{path} belongs to another user")


def _private_dir(data_dir: Path) -> Path:
    folder = wallet_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_private(folder, folder=True)
    return folder


def _write_private(path: Path, content: dict[str, Any]) -> None:
    """Write JSON readable by the owner only, atomically (a temp file, then rename)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(content, handle, indent=2)
            handle.write("\n")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _read_private(path: Path) -> dict[str, Any]:
    _check_private(path.parent, folder=True)
    _check_private(path, folder=False)
    try:
        content = json.loads(path.read_text())
    except ValueError:
        raise ConfigurationError(f"{path} is not valid JSON") from None
    if not isinstance(content, dict):
        raise ConfigurationError(f"{path} is not a wallet file")
    return content


def key_path(data_dir: Path) -> Path:
    return wallet_dir(data_dir) / KEY_FILE


def save_wallet(data_dir: Path, wallet: StoredWallet) -> Path:
    """Write the wallet's key file (0600 in a 0700 folder)."""
    path = _private_dir(data_dir) / KEY_FILE
    _write_private(
        path,
        {
            "keyType": wallet.signer.type,
            "privateKey": wallet.signer.private_raw.hex(),
            "publicKey": wallet.signer.public_key.hex,
            "accountId": wallet.account_id,
            "coordinator": wallet.coordinator,
        },
    )
    return path


def load_wallet(data_dir: Path) -> StoredWallet | None:
    """The dev wallet, or None when none was created; refused if others can read it."""
    path = key_path(data_dir)
    if not path.exists():
        return None
    content = _read_private(path)
    key_type = content.get("keyType")
    if key_type not in ("ed25519", "ecdsa_secp256k1"):
        raise ConfigurationError(f"{path} names an unknown key type {key_type!r}")
    try:
        signer = LocalSigner(key_type, bytes.fromhex(str(content.get("privateKey"))))
    except ValueError:
        raise ConfigurationError(f"{path} holds a malformed private key") from None
    return StoredWallet(signer, content.get("accountId"), content.get("coordinator"))


def save_session(
    data_dir: Path, *, coordinator: str, account_id: str, token: str, expires_at: datetime
) -> Path:
    """Keep a sign-in session for later commands (0600)."""
    path = _private_dir(data_dir) / SESSION_FILE
    _write_private(
        path,
        {
            "coordinator": coordinator.rstrip("/"),
            "accountId": account_id,
            "token": token,
            "expiresAt": expires_at.isoformat(),
        },
    )
    return path


def forget_session(data_dir: Path) -> None:
    (wallet_dir(data_dir) / SESSION_FILE).unlink(missing_ok=True)


def load_session(data_dir: Path) -> dict[str, Any] | None:
    path = wallet_dir(data_dir) / SESSION_FILE
    return _read_private(path) if path.exists() else None


def stored_session_token(coordinator: str, data_dir: Path | None = None) -> str | None:
    """The unexpired session token ``tensornode wallet sign-in`` kept for this coordinator."""
    session = load_session(data_dir or load_settings().data_dir)
    if session is None or session.get("coordinator") != coordinator.rstrip("/"):
        return None
    try:
        expires_at = datetime.fromisoformat(str(session.get("expiresAt")))
    except ValueError:
        raise ConfigurationError(
            "the stored session has a malformed expiresAt: sign in again"
        ) from None
    token = session.get("token")
    if expires_at <= datetime.now(UTC) or not isinstance(token, str):
        return None
    return token
