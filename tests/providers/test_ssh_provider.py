"""The ``ssh`` provider against the real sshd on loopback: hosts as VMs, one at a time,
login checked at create, stop and terminate clean up what the VM started."""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from sshd import SSHServer
from tensornode.config import SSHHostSettings
from tensornode.errors import Conflict, InvalidInput, ProviderError
from tensornode.providers.base import VMSpec, VMStatus
from tensornode.providers.ssh import SSHProvider
from tensornode.providers.ssh_host import SSHConnector
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyPins

from .conftest import wait_until_gone


def provider_for(sshd: SSHServer, tmp_path: Path, *, port: int | None = None) -> SSHProvider:
    host = SSHHostSettings(
        name="gpu-box",
        host="127.0.0.1",
        port=port or sshd.port,
        user=sshd.user,
        configuration="gpu-1x-a100",
        price_per_epoch_usd=Decimal("0"),
        vcpus=16,
        ram_gb=64,
        storage_gb=500,
        workdir=str(tmp_path / "remote"),
    )
    connector = SSHConnector(
        CoordinatorKey(sshd.client_key), HostKeyPins(tmp_path / "known_hosts"), connect_timeout=5
    )
    return SSHProvider([host], connector, tmp_path / "ssh-vms.json")


async def test_a_host_is_one_vm_at_a_time_and_terminate_cleans_up(
    sshd: SSHServer, tmp_path: Path
) -> None:
    provider = provider_for(sshd, tmp_path)
    try:
        (config,) = await provider.configurations()
        assert (config.slug, config.vcpus) == ("gpu-1x-a100", 16)
        vm = await provider.create(VMSpec("mine", "gpu-1x-a100"))
        assert vm.status is VMStatus.ACTIVE and vm.public_ip == "127.0.0.1"
        with pytest.raises(InvalidInput, match="no free SSH host") as info:
            await provider.create(VMSpec("second", "gpu-1x-a100"))
        assert info.value.status == 422

        host = provider.host(vm)
        pid = await host.spawn(["sleep", "300"], log_path="logs/sleep.log")
        assert await host.is_alive(pid)
        await provider.terminate(vm.provider_vm_id)
        assert await wait_until_gone(pid)
        assert not Path(host.workdir).exists()
        assert (await provider.query(vm.provider_vm_id)).status is VMStatus.TERMINATED
        with pytest.raises(Conflict, match="not active"):
            provider.host(await provider.query(vm.provider_vm_id))
        await provider.terminate(vm.provider_vm_id)  # twice: harmless
        again = await provider.create(VMSpec("again", "gpu-1x-a100"))  # the host is free
        assert again.status is VMStatus.ACTIVE
        await provider.terminate(again.provider_vm_id)
    finally:
        await provider.close()


async def test_create_fails_at_once_when_the_host_cannot_be_reached(
    sshd: SSHServer, tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    provider = provider_for(sshd, tmp_path, port=closed)
    with pytest.raises(ProviderError, match=r"cannot reach .* over SSH"):
        await asyncio.wait_for(provider.create(VMSpec("x", "gpu-1x-a100")), 30)
    assert not (tmp_path / "ssh-vms.json").exists()  # nothing recorded: the host stays free
    await provider.close()
