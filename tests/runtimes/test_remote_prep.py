"""Preparing a remote host for a runtime, over the real sshd on loopback: Docker found,
installed when missing (with the configured script), a failed install explained."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sshd import SSHServer
from tensornode.errors import RuntimeFailure
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyPins
from tensornode.runtimes.remote import ensure_docker, open_port

from .conftest import LogSink


@pytest.fixture
async def remote(sshd: SSHServer, tmp_path: Path) -> AsyncIterator[SSHHost]:
    connector = SSHConnector(
        CoordinatorKey(sshd.client_key), HostKeyPins(tmp_path / "known_hosts"), connect_timeout=5
    )
    target = SSHTarget("127.0.0.1", sshd.port, sshd.user)
    workdir = str(tmp_path / f"vm-{uuid.uuid4().hex[:6]}")
    # reached at a non-loopback name, as a real VM is
    yield SSHHost("vm-r", connector, target, address="vm.example", workdir=workdir)
    await connector.close()


async def test_a_missing_docker_is_installed_with_the_configured_script(
    remote: SSHHost, tmp_path: Path
) -> None:
    # the "installer" puts a docker command where the next login finds it (the workdir)
    shim = tmp_path / "bin" / "docker-shim"
    script = (
        f"mkdir -p {shim.parent} && printf '#!/bin/sh\\necho 24.0.7\\n' > {shim} "
        f"&& chmod +x {shim} && echo installed-docker"
    )
    log = LogSink()
    await ensure_docker(remote, log, docker=str(shim), install_script=script)
    assert "Docker is not installed on vm.example: installing it" in log.text
    assert "installed-docker" in log.text
    assert (await remote.run([str(shim), "version"])).output.strip() == "24.0.7"


async def test_a_failed_install_says_what_to_do(remote: SSHHost) -> None:
    with pytest.raises(RuntimeFailure) as info:
        await ensure_docker(
            remote,
            LogSink(),
            docker="docker-not-here",
            install_script="echo 'curl: (6) Could not resolve host' >&2; exit 6",
        )
    assert "installing it failed (exit 6): curl: (6) Could not resolve host" in info.value.message
    assert "Install Docker on the host yourself" in info.value.message


async def test_the_engine_of_this_machine_is_found(docker_engine: None, remote: SSHHost) -> None:
    log = LogSink()
    await ensure_docker(remote, log, install_script="exit 1")  # never called: docker is there
    assert log.lines == []
    await open_port(remote, 3000, log)  # no active ufw here: nothing to open, no error
