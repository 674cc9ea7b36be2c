"""The Fluence client and provider against the fake Fluence API (tests/fakes/fluence.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from fakes.fluence import STATUSES, FakeFluence
from tensornode.config import FluenceSettings
from tensornode.errors import ConfigurationError, Conflict, InvalidInput, NotFound, ProviderError
from tensornode.providers.base import PortSpec, VMSpec, VMStatus
from tensornode.providers.fluence import FluenceClient, FluenceProvider
from tensornode.providers.fluence.provider import NATIVE_STATUS
from tensornode.providers.ssh_host import SSHConnector, SSHHost
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyPins

KEY = "fl-test-key"


def client_for(fake: FakeFluence, **options: object) -> FluenceClient:
    settings = FluenceSettings(api_key=SecretStr(KEY), backoff_s=0, **options)  # type: ignore[arg-type]
    return FluenceClient.from_settings(settings, transport=fake.transport())


@pytest.fixture
def fake() -> FakeFluence:
    return FakeFluence(api_key=KEY)


@pytest.fixture
def provider(fake: FakeFluence, tmp_path: Path) -> FluenceProvider:
    settings = FluenceSettings(api_key=SecretStr(KEY), backoff_s=0, ssh_port=2222)
    connector = SSHConnector(
        CoordinatorKey(tmp_path / "id_ed25519"), HostKeyPins(tmp_path / "known_hosts")
    )
    return FluenceProvider(
        FluenceClient.from_settings(settings, transport=fake.transport()), connector, settings
    )


def spec(**changes: object) -> VMSpec:
    base: dict[str, object] = {
        "name": "high-performance-llm",
        "configuration": "cpu-8-ram-16gb-storage-50gb",
        "open_ports": (PortSpec(3000), PortSpec(8080)),
        "max_price_per_epoch_usd": Decimal("3.0"),
    }
    return VMSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_every_documented_status_is_mapped() -> None:
    assert set(NATIVE_STATUS) == STATUSES


async def test_auth_header_is_configurable(fake: FakeFluence) -> None:
    assert await client_for(fake).basic_configurations()
    bearer = FakeFluence(api_key=KEY, auth_header="Authorization")
    assert await client_for(bearer, auth_header="Authorization").basic_configurations()
    with pytest.raises(ProviderError, match=r"refused the coordinator's API key \(HTTP 401"):
        await client_for(bearer).basic_configurations()  # X-API-KEY where Bearer is wanted


def test_no_api_key_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="TENSORNODE_FLUENCE__API_KEY"):
        FluenceClient.from_settings(FluenceSettings())


async def test_5xx_is_retried_with_backoff_then_given_up(fake: FakeFluence) -> None:
    client = client_for(fake, retries=2)
    fake.fail_next(502, 503)
    assert await client.list_vms() == []
    fake.fail_next(500, 500, 500)
    with pytest.raises(ProviderError, match="HTTP 500"):
        await client.list_vms()
    assert len(fake.requests) == 6


async def test_a_deploy_is_not_retried_on_5xx(fake: FakeFluence, provider: FluenceProvider) -> None:
    await provider.create(spec(name="first"))  # registers the key
    fake.fail_next(500)
    with pytest.raises(ProviderError, match="HTTP 500"):
        await provider.create(spec())
    deploys = [r for r in fake.requests if r[:2] == ("POST", "/vms/v3")]
    assert len(deploys) == 2 and deploys[-1] == fake.requests[-1]  # sent once, not retried
    assert len(fake.vms) == 1


async def test_configurations_are_priced_by_fluence(provider: FluenceProvider) -> None:
    configs = {c.slug: c for c in await provider.configurations()}
    big = configs["cpu-8-ram-16gb-storage-50gb"]
    assert (big.vcpus, big.ram_gb, big.storage_gb) == (8, 16, 50)
    assert big.price_per_epoch_usd == Decimal("2.80")


async def test_deploy_registers_the_key_and_polls_until_active(
    fake: FakeFluence, provider: FluenceProvider
) -> None:
    fake.plan_next("New", "Launching", "Launching", "Active")
    created = await provider.create(spec())
    assert created.status is VMStatus.LAUNCHING and created.public_ip is None
    sent = next(
        body for method, path, body in fake.requests if (method, path) == ("POST", "/vms/v3")
    )
    public_key = provider.connector.key.public_key
    assert sent["constraints"] == {
        "basicConfiguration": "cpu-8-ram-16gb-storage-50gb",
        "maxTotalPricePerEpochUsd": "3.0",
    }
    assert sent["vmConfiguration"]["openPorts"][0] == {"port": 22, "protocol": "tcp"}
    assert {p["port"] for p in sent["vmConfiguration"]["openPorts"]} == {22, 3000, 8080}
    assert sent["vmConfiguration"]["sshKeys"] == [public_key]
    assert fake.ssh_keys == [
        {"name": "tensornode-coordinator", "publicKey": public_key, "active": True}
    ]
    statuses = [(await provider.query(created.provider_vm_id)).status for _ in range(2)]
    assert statuses == [VMStatus.LAUNCHING, VMStatus.ACTIVE]
    active = await provider.query(created.provider_vm_id)
    assert active.public_ip == "127.0.0.1" and active.price_per_epoch_usd == Decimal("2.80")
    host = provider.host(active)
    assert isinstance(host, SSHHost)
    assert (host.target.port, host.target.user) == (2222, "ubuntu")
    await provider.create(spec(name="second"))
    assert len(fake.ssh_keys) == 1  # registered once


async def test_no_suitable_offer_says_what_to_change(provider: FluenceProvider) -> None:
    with pytest.raises(InvalidInput, match="No suitable offer found: raise maxTotal") as info:
        await provider.create(spec(max_price_per_epoch_usd=Decimal("1.0")))
    assert info.value.status == 422


async def test_a_vm_that_fails_and_one_terminated_by_fluence(
    fake: FakeFluence, provider: FluenceProvider
) -> None:
    fake.plan_next("New", "Launching", "InsufficientFunds")
    failing = await provider.create(spec())
    await provider.query(failing.provider_vm_id)
    stopped = await provider.query(failing.provider_vm_id)
    assert stopped.status is VMStatus.STOPPED
    assert stopped.note is not None and "insufficient funds" in stopped.note
    with pytest.raises(Conflict, match="not active"):
        provider.host(stopped)

    ok = await provider.create(spec(name="ok"))
    fake.set_status(ok.provider_vm_id, "Terminated")
    gone = await provider.query(ok.provider_vm_id)
    assert gone.status is VMStatus.TERMINATED and gone.note == "Fluence terminated the VM"


async def test_unknown_status_is_an_error_not_a_guess(
    fake: FakeFluence, provider: FluenceProvider
) -> None:
    vm = await provider.create(spec())
    fake.vms[vm.provider_vm_id].plan.clear()
    fake.vms[vm.provider_vm_id].status = "Hibernating"
    with pytest.raises(ProviderError, match="unknown status 'Hibernating'"):
        await provider.query(vm.provider_vm_id)


async def test_patch_keeps_22_and_delete_terminates(
    fake: FakeFluence, provider: FluenceProvider
) -> None:
    vm = await provider.create(spec())
    await provider.update(vm.provider_vm_id, name="renamed", open_ports=(PortSpec(9000),))
    row = fake.vms[vm.provider_vm_id]
    assert row.name == "renamed"
    assert [p["port"] for p in row.ports] == [22, 9000]
    await provider.terminate(vm.provider_vm_id)
    assert (await provider.query(vm.provider_vm_id)).status is VMStatus.TERMINATED
    await provider.terminate(vm.provider_vm_id)  # twice: harmless
    assert [r[0] for r in fake.requests].count("DELETE") == 1
    with pytest.raises(NotFound):
        await provider.query("0xnothing")
    with pytest.raises(Conflict, match="only terminated"):
        await provider.stop(vm.provider_vm_id)


async def test_the_api_key_never_appears_in_errors(fake: FakeFluence) -> None:
    fake.fail_next(500, 500, 500, 500)
    with pytest.raises(ProviderError) as info:
        await client_for(fake).list_vms()
    assert KEY not in str(info.value)


async def test_many_vms_are_queried_with_one_list_call(
    fake: FakeFluence, provider: FluenceProvider
) -> None:
    one = await provider.create(spec(name="one"))
    two = await provider.create(spec(name="two"))
    before = len(fake.requests)
    found = await provider.query_many([one.provider_vm_id, two.provider_vm_id, "0xgone"])
    assert set(found) == {one.provider_vm_id, two.provider_vm_id}
    assert fake.requests[before:] == [("GET", "/vms/v3", None)]
