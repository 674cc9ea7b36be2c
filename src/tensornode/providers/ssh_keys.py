"""SSH identity of the coordinator and the host keys it trusts.

* :class:`CoordinatorKey`: one Ed25519 key pair per coordinator, generated on first use.
  The private key lives in a 0600 file (``data_dir/ssh/id_ed25519`` unless configured)
  and never leaves it: not in logs, API answers or the database. The public key is what
  providers install on VMs (Fluence: its ``/ssh_keys`` endpoint).
* :class:`HostKeyPins`: trust on first use. The first key a host presents is pinned in an
  OpenSSH-format file (``[host]:port type base64``); later connections must present the
  same key, or are refused with :class:`HostKeyMismatch`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncssh

from tensornode.config import Settings
from tensornode.errors import ConfigurationError, ProviderError
from tensornode.providers.local_host import atomic_write

KEY_ALGORITHM = "ssh-ed25519"


class HostKeyMismatch(ProviderError):
    """A host presented a key other than the one pinned for it."""


def ssh_dir(settings: Settings) -> Path:
    path = settings.ensure_data_dir() / "ssh"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


class CoordinatorKey:
    """The coordinator's SSH key pair (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: asyncssh.SSHKey | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> CoordinatorKey:
        return cls(settings.ssh.key_path or ssh_dir(settings) / "id_ed25519")

    def private_key(self) -> asyncssh.SSHKey:
        """The key, generated (and written 0600) the first time; refused if the file is
        readable by others."""
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    @property
    def public_key(self) -> str:
        """The OpenSSH public key line (``ssh-ed25519 AAAA... tensornode-coordinator``)."""
        return self.private_key().export_public_key("openssh").decode().strip()

    def _load_or_create(self) -> asyncssh.SSHKey:
        if self.path.exists():
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                raise ConfigurationError(
                    f"SSH private key {self.path} is readable by others (mode {mode:o}); "
                    "run chmod 600 on it"
                )
            try:
                return asyncssh.read_private_key(self.path)
            except (OSError, asyncssh.KeyImportError) as exc:
                raise ConfigurationError(f"cannot read SSH key {self.path}: {exc}") from None
        key = asyncssh.generate_private_key(KEY_ALGORITHM, comment="tensornode-coordinator")
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _file_lock(self.path.with_name(self.path.name + ".lock")):
            if self.path.exists():  # another process made it meanwhile
                return asyncssh.read_private_key(self.path)
            atomic_write(self.path, key.export_private_key("openssh"), mode=0o600)
            atomic_write(
                self.path.with_name(self.path.name + ".pub"),
                key.export_public_key("openssh"),
                mode=0o644,
            )
        return key


def _host_id(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class HostKeyPins:
    """Host keys pinned on first use, in one OpenSSH ``known_hosts``-format file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> HostKeyPins:
        return cls(settings.ssh.known_hosts_path or ssh_dir(settings) / "known_hosts")

    def pinned(self, host: str, port: int) -> asyncssh.SSHKey | None:
        """The key pinned for ``host:port``, or None before the first connection."""
        wanted = _host_id(host, port)
        for name, key in self._entries():
            if name == wanted:
                return key
        return None

    def check(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Pin ``key`` if the host has none yet; HostKeyMismatch if it has another."""
        with self._lock, _file_lock(self.path.with_name(self.path.name + ".lock")):
            pinned = self.pinned(host, port)
            if pinned is None:
                self._append(host, port, key)
                return
        if pinned.public_data != key.public_data:
            raise HostKeyMismatch(
                f"the SSH host key of {host}:{port} changed (pinned {pinned.get_fingerprint()}, "
                f"offered {key.get_fingerprint()}): refusing to connect. If the server was "
                f"reinstalled, remove its line from {self.path}"
            )

    def forget(self, host: str, port: int) -> None:
        """Drop the pin of ``host:port`` (its VM was terminated; the address may be reused)."""
        wanted = _host_id(host, port)
        with self._lock, _file_lock(self.path.with_name(self.path.name + ".lock")):
            lines = [
                line for line in self._lines() if not line.strip() or line.split()[0] != wanted
            ]
            atomic_write(self.path, "".join(f"{line}\n" for line in lines).encode(), mode=0o600)

    def _lines(self) -> list[str]:
        try:
            return self.path.read_text().splitlines()
        except FileNotFoundError:
            return []

    def _entries(self) -> Iterator[tuple[str, asyncssh.SSHKey]]:
        for line in self._lines():
            parts = line.split()
            if len(parts) < 3 or line.startswith("#"):
                continue
            try:
                yield parts[0], asyncssh.import_public_key(f"{parts[1]} {parts[2]}")
            except asyncssh.KeyImportError:
                raise ProviderError(
                    f"unreadable host key line in {self.path}: {parts[0]}"
                ) from None

    def _append(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        line = f"{_host_id(host, port)} {key.export_public_key('openssh').decode().split()[0]} "
        line += key.export_public_key("openssh").decode().split()[1]
        data = "".join(f"{old}\n" for old in self._lines()) + line + "\n"
        atomic_write(self.path, data.encode(), mode=0o600)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise writers across coordinator processes sharing the data directory."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
