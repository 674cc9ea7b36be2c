"""The local provider: configurations and price caps, lifecycle, ports, persistence."""

from __future__ import annotations

import json
import socket
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from tensornode.config import LocalProviderSettings, Settings
from tensornode.errors import Conflict, InvalidInput, NotFound
from tensornode.providers.base import PortSpec, ProvisionedVM, VMSpec, VMStatus
from tensornode.providers.local import LocalProvider
from tensornode.providers.registry import registry

from .conftest import eventually, gone, wait_until_gone

GUIDE_PORTS = (PortSpec(22), PortSpec(3000), PortSpec(8080))


def spec(configuration: str = "cpu-4-ram-8gb-storage-25gb", **kw: object) -> VMSpec:
    return VMSpec(name="high-performance-llm", configuration=configuration, **kw)  # type: ignore[arg-type]


@pytest.fixture
def provider(tmp_path: Path) -> LocalProvider:
    return LocalProvider(tmp_path, launch_seconds=0, port_range=(24000, 24999))


async def test_configurations_are_priced_per_epoch(provider: LocalProvider) -> None:
    offered = {c.slug: c.price_per_epoch_usd for c in await provider.configurations()}
    assert offered == {
        "cpu-2-ram-4gb-storage-25gb": Decimal("0.50"),
        "cpu-4-ram-8gb-storage-25gb": Decimal("1.00"),
        "cpu-8-ram-16gb-storage-50gb": Decimal("2.00"),
        "cpu-16-ram-32gb-storage-100gb": Decimal("4.00"),
    }


async def test_the_miner_guides_configuration_fits_its_price_cap(provider: LocalProvider) -> None:
    vm = await provider.create(
        spec(
            "cpu-8-ram-16gb-storage-50gb",
            max_price_per_epoch_usd=Decimal("3.0"),
            open_ports=GUIDE_PORTS,
        )
    )
    assert vm.status is VMStatus.ACTIVE
    assert vm.price_per_epoch_usd == Decimal("2.00")
    assert vm.open_ports == GUIDE_PORTS


async def test_a_configuration_over_the_cap_is_refused(provider: LocalProvider) -> None:
    with pytest.raises(InvalidInput) as caught:
        await provider.create(spec("cpu-16-ram-32gb-storage-100gb", max_price_per_epoch_usd=3))
    assert caught.value.status == 422
    assert caught.value.message == (
        "No suitable offer found: cpu-16-ram-32gb-storage-100gb costs 4.00 USD per epoch, "
        "above the cap of 3 USD"
    )


async def test_an_unknown_configuration_is_refused(provider: LocalProvider) -> None:
    with pytest.raises(InvalidInput, match="unknown configuration 'gpu-a100'") as caught:
        await provider.create(spec("gpu-a100"))
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("port", "message"),
    [(PortSpec(0), "port 0 is out of range"), (PortSpec(80, "sctp"), "must be tcp or udp")],
)
async def test_bad_ports_are_refused(provider: LocalProvider, port: PortSpec, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        await provider.create(spec(open_ports=(port,)))


async def test_lifecycle_launching_active_stopped_terminated(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, launch_seconds=0.2, port_range=(24000, 24999))
    vm = await provider.create(spec(open_ports=GUIDE_PORTS))
    assert vm.status is VMStatus.LAUNCHING
    assert vm.public_ip is None  # as on Fluence: no address until the VM is up
    assert vm.provider_vm_id.startswith("local-")
    with pytest.raises(Conflict, match=f"VM {vm.provider_vm_id} is launching, not active"):
        provider.host(vm)

    async def active() -> bool:
        return (await provider.query(vm.provider_vm_id)).status is VMStatus.ACTIVE

    assert await eventually(active)
    vm = await provider.query(vm.provider_vm_id)
    assert vm.public_ip == "127.0.0.1"
    vm_dir = tmp_path / "vms" / vm.provider_vm_id
    assert provider.host(vm).workdir == str(vm_dir / "work")

    await provider.stop(vm.provider_vm_id)
    assert (await provider.query(vm.provider_vm_id)).status is VMStatus.STOPPED
    with pytest.raises(Conflict, match="is stopped, not active"):
        provider.host(vm)
    await provider.stop(vm.provider_vm_id)  # stopping twice is harmless

    await provider.terminate(vm.provider_vm_id)
    assert (await provider.query(vm.provider_vm_id)).status is VMStatus.TERMINATED
    assert not (vm_dir / "work").exists()
    await provider.terminate(vm.provider_vm_id)  # so is terminating twice
    with pytest.raises(Conflict, match="is terminated"):
        await provider.stop(vm.provider_vm_id)


async def test_each_open_port_gets_its_own_free_host_port(provider: LocalProvider) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 24000))
        busy.listen()
        first = await provider.create(spec(open_ports=GUIDE_PORTS))
        second = await provider.create(spec(open_ports=(PortSpec(3000),)))
    assert set(first.port_map) == {22, 3000, 8080}
    host_ports = [*first.port_map.values(), *second.port_map.values()]
    assert len(set(host_ports)) == 4
    assert 24000 not in host_ports
    assert all(24000 < p <= 24999 for p in host_ports)


async def test_ports_of_terminated_vms_are_reused(provider: LocalProvider) -> None:
    first = await provider.create(spec(open_ports=(PortSpec(3000),)))
    await provider.terminate(first.provider_vm_id)
    second = await provider.create(spec(open_ports=(PortSpec(3000),)))
    assert second.port_map == first.port_map


async def test_running_out_of_ports_is_a_provider_error(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, launch_seconds=0, port_range=(24500, 24501))
    await provider.create(spec(open_ports=(PortSpec(3000), PortSpec(3001))))
    with pytest.raises(Exception, match="no free host port left in 24500-24501"):
        await provider.create(spec(open_ports=(PortSpec(3000),)))


async def test_a_new_provider_instance_sees_the_same_vms(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path, launch_seconds=0, port_range=(24000, 24999))
    vm = await provider.create(spec(open_ports=GUIDE_PORTS))
    pid = await provider.host(vm).spawn(["sleep", "600"], log_path="sleep.log")

    restarted = LocalProvider(tmp_path, launch_seconds=0, port_range=(24000, 24999))
    again = await restarted.query(vm.provider_vm_id)
    assert again == vm
    record = json.loads((tmp_path / "vms" / vm.provider_vm_id / "vm.json").read_text())
    assert record["port_map"] == {str(k): v for k, v in vm.port_map.items()}

    await restarted.stop(vm.provider_vm_id)  # kills what the first instance started
    assert await wait_until_gone(pid)
    assert (await provider.query(vm.provider_vm_id)).status is VMStatus.STOPPED


async def test_stop_kills_every_process_of_the_vm_only(provider: LocalProvider) -> None:
    one = await provider.create(spec())
    two = await provider.create(spec())
    one_pids = [
        await provider.host(one).spawn([sys.executable, "-c", "import time; time.sleep(600)"],
                                       log_path=f"p{i}.log")
        for i in range(2)
    ]  # fmt: skip
    two_pid = await provider.host(two).spawn(["sleep", "600"], log_path="p.log")
    await provider.stop(one.provider_vm_id)
    assert all(gone(pid) for pid in one_pids)
    assert not gone(two_pid)
    await provider.terminate(two.provider_vm_id)
    assert await wait_until_gone(two_pid)


@pytest.mark.parametrize("vm_id", ["local-ffffffffffff", "../../etc", "local-0/../x", ""])
async def test_unknown_vm_ids_are_not_found_with_the_id(
    provider: LocalProvider, vm_id: str
) -> None:
    for call in (provider.query, provider.stop, provider.terminate):
        with pytest.raises(NotFound) as caught:
            await call(vm_id)
        assert caught.value.message == f"VM {vm_id} not found"
    ghost = ProvisionedVM(vm_id, VMStatus.ACTIVE, "127.0.0.1", (), Decimal(1))
    with pytest.raises(NotFound):
        provider.host(ghost)


def test_the_registry_builds_the_local_provider_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        local_provider=LocalProviderSettings(
            launch_seconds=0, port_range_start=25000, port_range_end=25100
        ),
    )
    provider = registry["local"](settings)
    assert isinstance(provider, LocalProvider)
    assert provider.name == "local"
    assert provider.root == tmp_path / "vms"
    assert provider.launch_seconds == 0
    assert provider.port_range == (25000, 25100)
