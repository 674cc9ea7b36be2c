"""SSHHost against a real OpenSSH server on loopback: commands, exit codes, timeouts,
detached processes, SFTP files, host-key pinning and clear errors."""

from __future__ import annotations

import asyncio
import os
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sshd import SSHServer, start_sshd
from tensornode.errors import InvalidInput, NotFound, ProviderError, RuntimeFailure
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyMismatch, HostKeyPins

from .conftest import wait_until_gone


def connector_for(server: SSHServer, tmp_path: Path) -> SSHConnector:
    return SSHConnector(
        CoordinatorKey(server.client_key),
        HostKeyPins(tmp_path / "known_hosts"),
        connect_timeout=10,
    )


@pytest.fixture
async def ssh_host(sshd: SSHServer, tmp_path: Path) -> AsyncIterator[SSHHost]:
    connector = connector_for(sshd, tmp_path)
    workdir = tmp_path / "remote" / f"vm-{uuid.uuid4().hex[:8]}"
    target = SSHTarget("127.0.0.1", sshd.port, sshd.user)
    yield SSHHost("vm-1", connector, target, address="127.0.0.1", workdir=str(workdir))
    await connector.close()


async def test_run_streams_output_and_returns_real_exit_codes(ssh_host: SSHHost) -> None:
    lines: list[str] = []

    async def sink(line: str) -> None:
        lines.append(line)

    result = await ssh_host.run(
        ["sh", "-c", 'echo one; echo "two $GREETING" >&2; pwd; exit 7'],
        env={"GREETING": "it's ok"},
        on_output=sink,
    )
    assert result.exit_code == 7
    # stderr travels on its own SSH stream: merged, but not ordered with stdout
    assert sorted(lines) == sorted(["one", "two it's ok", ssh_host.workdir])
    assert sorted(result.output.splitlines()) == sorted(lines)
    missing = await ssh_host.run(["no-such-program-here"])
    assert missing.exit_code == 127


async def test_timeout_kills_the_remote_command(ssh_host: SSHHost, tmp_path: Path) -> None:
    marker = tmp_path / "late"
    with pytest.raises(RuntimeFailure, match="timed out after 1 s"):
        await ssh_host.run(["sh", "-c", f"sleep 2; touch {marker}"], timeout=1)
    await asyncio.sleep(1.5)  # past when it would have touched the marker
    assert not marker.exists()


async def test_spawned_process_is_detached_tracked_and_killed(ssh_host: SSHHost) -> None:
    pid = await ssh_host.spawn(
        ["sh", "-c", 'echo "started $ROLE"; exec sleep 60'],
        env={"ROLE": "miner"},
        log_path="logs/m.log",
    )
    assert await ssh_host.is_alive(pid)
    for _ in range(50):
        if b"started miner" in await ssh_host.read_file("logs/m.log"):
            break
        await asyncio.sleep(0.1)
    assert (await ssh_host.read_file("logs/m.log")).strip() == b"started miner"
    await ssh_host.kill(pid, grace=1)
    assert not await ssh_host.is_alive(pid)
    assert await wait_until_gone(pid)  # this machine is the host: the process is gone
    await ssh_host.kill(pid)  # gone: no error
    assert not await ssh_host.is_alive(os.getpid())  # never spawned by this host


async def test_files_over_sftp(ssh_host: SSHHost) -> None:
    await ssh_host.write_file("secrets/key", b"k" * 10, mode=0o600)
    path = Path(ssh_host.workdir) / "secrets" / "key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert await ssh_host.read_file("secrets/key") == b"k" * 10
    assert await ssh_host.read_file("secrets/key", tail_bytes=3) == b"kkk"
    with pytest.raises(NotFound):
        await ssh_host.read_file("nothing-here")
    for bad in ("/etc/passwd", "../outside", "a/../../b"):
        with pytest.raises(InvalidInput):
            await ssh_host.write_file(bad, b"x")


async def test_host_key_is_pinned_and_a_changed_key_refused(tmp_path: Path) -> None:
    server = start_sshd(tmp_path / "sshd")
    try:
        pins = HostKeyPins(tmp_path / "known_hosts")
        target = SSHTarget("127.0.0.1", server.port, server.user)

        async def whoami() -> str:
            connector = SSHConnector(CoordinatorKey(server.client_key), pins, connect_timeout=10)
            host = SSHHost("vm-2", connector, target, address="127.0.0.1", workdir=str(tmp_path))
            try:
                return (await host.run(["id", "-un"])).output.strip()
            finally:
                await connector.close()

        assert await whoami() == server.user
        assert pins.pinned("127.0.0.1", server.port) is not None
        assert await whoami() == server.user  # same key: accepted
        server.restart(new_host_key=True)
        with pytest.raises(HostKeyMismatch, match=r"host key of 127\.0\.0\.1:.* changed"):
            await whoami()
        pins.forget("127.0.0.1", server.port)  # the operator re-trusts the reinstalled host
        assert await whoami() == server.user
    finally:
        server.stop()


async def test_unknown_key_and_closed_port_are_clear_errors(
    sshd: SSHServer, tmp_path: Path
) -> None:
    stranger = CoordinatorKey(tmp_path / "other_key")
    connector = SSHConnector(stranger, HostKeyPins(tmp_path / "kh"), connect_timeout=5)
    host = SSHHost(
        "vm-3", connector, SSHTarget("127.0.0.1", sshd.port, sshd.user), address="x", workdir="w"
    )
    with pytest.raises(ProviderError, match="refused: add the coordinator's public key"):
        await host.run(["true"])
    with socket_closed() as port:
        host = SSHHost(
            "vm-4", connector, SSHTarget("127.0.0.1", port, sshd.user), address="x", workdir="w"
        )
        with pytest.raises(ProviderError, match=r"cannot reach .* over SSH"):
            await host.run(["true"])
    await connector.close()


def test_coordinator_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    key = CoordinatorKey(tmp_path / "ssh" / "id_ed25519")
    public = key.public_key
    assert public.startswith("ssh-ed25519 ")
    assert stat.S_IMODE((tmp_path / "ssh" / "id_ed25519").stat().st_mode) == 0o600
    assert CoordinatorKey(tmp_path / "ssh" / "id_ed25519").public_key == public
    (tmp_path / "ssh" / "id_ed25519").chmod(0o644)
    with pytest.raises(Exception, match="readable by others"):
        CoordinatorKey(tmp_path / "ssh" / "id_ed25519").private_key()


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
