"""A real OpenSSH server on loopback (Debian's openssh-server), for the SSH host tests.

``sshd`` (session) is one server on a free port with its own host key, config and
``authorized_keys`` in a temp dir, logging in the user running the tests with the client
key ``sshd.client_key``; commands run on this machine, so the Docker engine here is the
one behind it. ``start_sshd`` makes another (a test that changes the host key restarts
its own). Tests skip, saying why, only where sshd cannot be installed or started.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SSHD = Path("/usr/sbin/sshd")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


@dataclass
class SSHServer:
    """One running sshd; ``restart(new_host_key=True)`` to change its identity."""

    root: Path
    port: int
    user: str
    client_key: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    def start(self) -> None:
        config = self.root / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.root / 'authorized_keys'}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "MaxStartups 100",
                    "MaxSessions 100",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        log = open(self.root / "sshd.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.root / 'sshd.log').read_text()[-500:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not listen within 15 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)
        self.process = None

    def restart(self, *, new_host_key: bool = False) -> None:
        self.stop()
        if new_host_key:
            _keygen(self.host_key)
        self.start()

    def authorize(self, public_key: str) -> None:
        with open(self.root / "authorized_keys", "a") as f:
            f.write(public_key.strip() + "\n")


def _sshd_unavailable() -> str | None:
    if not SSHD.exists():
        setup = subprocess.run(
            ["bash", str(ROOT / "tests" / "setup-services.sh"), "sshd"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(setup.stdout, setup.stderr)
    if not SSHD.exists():
        return "openssh-server is not installed (tests/setup-services.sh installs it as root)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen is not installed"
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    return None


def start_sshd(root: Path) -> SSHServer:
    """A new sshd in ``root`` (host key, client key, config), started; skip if impossible."""
    reason = _sshd_unavailable()
    if reason is not None:
        pytest.skip(reason)
    root.mkdir(parents=True, exist_ok=True)
    server = SSHServer(root, _free_port(), getpass.getuser(), root / "client_key")
    _keygen(server.host_key)
    _keygen(server.client_key)
    server.authorize(server.client_key.with_name("client_key.pub").read_text())
    try:
        server.start()
    except RuntimeError as exc:
        pytest.skip(f"sshd cannot start here: {exc}")
    return server


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHServer]:
    """The suite's sshd on loopback (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="tensornode-sshd-"))
    server = start_sshd(root)
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
