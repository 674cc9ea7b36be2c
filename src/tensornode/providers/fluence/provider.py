"""The ``fluence`` provider: VMs rented on Fluence's marketplace, used over SSH.

A VM is deployed with the caller's constraints (configuration, price cap per epoch, the
configured datacenter countries), its open ports (22 always) and the coordinator's SSH
public key, which is also registered once through ``/ssh_keys``. Fluence reports it
``New``/``Launching`` until it is ``Active`` with a public IP; then its host is an
:class:`~tensornode.providers.ssh_host.SSHHost` logging in as ``ubuntu`` (configurable).
Configurations and their prices come from Fluence (``basic_configurations`` priced by
``estimate``) and are cached for a few minutes. Fluence VMs cannot be stopped through
the API, only terminated.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from tensornode.config import FluenceSettings
from tensornode.errors import Conflict, InvalidInput, NotFound, ProviderError
from tensornode.providers.base import (
    Configuration,
    PortSpec,
    PriceEstimate,
    ProvisionedVM,
    VMSpec,
    VMStatus,
)
from tensornode.providers.fluence.client import FluenceClient
from tensornode.providers.ssh_host import SSHConnector, SSHHost, SSHTarget

log = logging.getLogger(__name__)

NATIVE_STATUS: dict[str, VMStatus] = {
    "New": VMStatus.LAUNCHING,
    "Launching": VMStatus.LAUNCHING,
    "Active": VMStatus.ACTIVE,
    "SmallBalance": VMStatus.ACTIVE,  # still running; the balance is about to run out
    "InsufficientFunds": VMStatus.STOPPED,  # halted by Fluence until the balance is topped up
    "Terminated": VMStatus.TERMINATED,  # by the provider
    "Stopped": VMStatus.STOPPED,  # by the user (console)
}
"""Fluence's VM states and what they mean to us; any other is an error."""

STATUS_NOTES: dict[str, str] = {
    "SmallBalance": "Fluence: the account balance is low; top it up or the VM will stop",
    "InsufficientFunds": "Fluence: the VM was halted for insufficient funds; top up the balance",
    "Terminated": "Fluence terminated the VM",
    "Stopped": "the VM was stopped in the Fluence console",
}
"""What a user should read next to a status that needs their action."""

_SLUG = re.compile(r"^cpu-(\d+)-ram-(\d+)gb-storage-(\d+)gb")


def _usd(value: Any, what: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ProviderError(f"Fluence {what}: not a price: {value!r}") from None


class FluenceProvider:
    """VMs on Fluence (see the module docstring)."""

    name = "fluence"

    def __init__(
        self, client: FluenceClient, connector: SSHConnector, settings: FluenceSettings
    ) -> None:
        self.client = client
        self.connector = connector
        self.settings = settings
        self._configurations: tuple[float, list[Configuration]] | None = None
        self._key_registered = False
        self._lock = asyncio.Lock()

    # -- configurations and prices ----------------------------------------------------

    async def configurations(self) -> list[Configuration]:
        """Fluence's basic configurations that have an offer now, priced per epoch."""
        cached = self._configurations
        if cached is not None and time.monotonic() - cached[0] < self.settings.prices_cache_s:
            return cached[1]
        slugs = await self.client.basic_configurations()
        priced = await asyncio.gather(*(self._priced(slug) for slug in slugs))
        configs = [c for c in priced if c is not None]
        self._configurations = (time.monotonic(), configs)
        return configs

    async def _priced(self, slug: str) -> Configuration | None:
        try:
            estimate = await self.client.estimate(self._constraints(slug, None), 1)
        except InvalidInput:  # 422: no offer for it now
            return None
        price = _usd(estimate.get("totalPricePerEpoch"), "estimate")
        sizes = _SLUG.match(slug)
        vcpus, ram, storage = (int(g) for g in sizes.groups()) if sizes else (0, 0, 0)
        return Configuration(slug, vcpus, ram, storage, price)

    async def estimate(
        self, configuration: str, instances: int, cap: Decimal | None
    ) -> PriceEstimate:
        """Fluence's quote: the price per epoch of ``instances`` VMs and the deposit."""
        quote = await self.client.estimate(self._constraints(configuration, cap), instances)
        return PriceEstimate(
            total_price_per_epoch_usd=_usd(quote.get("totalPricePerEpoch"), "estimate"),
            deposit_usd=_usd(quote.get("depositAmountUsdc"), "estimate"),
            deposit_epochs=int(quote.get("depositEpochs") or 0),
        )

    def _constraints(self, slug: str, cap: Decimal | None) -> dict[str, Any]:
        constraints: dict[str, Any] = {"basicConfiguration": slug}
        if cap is not None:
            constraints["maxTotalPricePerEpochUsd"] = str(cap)
        if self.settings.datacenter_countries:
            constraints["datacenter"] = {"countries": list(self.settings.datacenter_countries)}
        return constraints

    # -- lifecycle --------------------------------------------------------------------

    async def create(self, spec: VMSpec) -> ProvisionedVM:
        """Deploy one VM; InvalidInput (422) with Fluence's reason when no offer fits."""
        public_key = await self._register_key()
        ports = _with_ssh(spec.open_ports)
        vm_configuration: dict[str, Any] = {
            "name": spec.name,
            "openPorts": [{"port": p.port, "protocol": p.protocol} for p in ports],
            "sshKeys": [public_key, *spec.ssh_keys],
        }
        if self.settings.os_image:
            vm_configuration["osImage"] = self.settings.os_image
        body = {
            "constraints": self._constraints(spec.configuration, spec.max_price_per_epoch_usd),
            "instances": 1,
            "vmConfiguration": vm_configuration,
        }
        created = await self.client.deploy(body)
        if len(created) != 1 or not isinstance(created[0].get("vmId"), str):
            raise ProviderError(f"Fluence deploy: expected one vmId, got {created!r:.200}")
        vm_id = created[0]["vmId"]
        log.info("Fluence VM deployed", extra={"provider_vm_id": vm_id})
        try:
            return await self.query(vm_id)
        except NotFound:  # not listed yet: it is new
            return ProvisionedVM(vm_id, VMStatus.LAUNCHING, None, ports, Decimal(0))

    async def query(self, provider_vm_id: str) -> ProvisionedVM:
        """The VM as Fluence lists it; NotFound if Fluence does not list it."""
        for vm in await self.client.list_vms():
            if vm.get("id") == provider_vm_id:
                return self._provisioned(vm)
        raise NotFound(f"Fluence VM {provider_vm_id} not found")

    async def query_many(self, provider_vm_ids: Sequence[str]) -> dict[str, ProvisionedVM]:
        """The listed VMs among ``provider_vm_ids``, from one list call."""
        wanted = set(provider_vm_ids)
        return {
            str(vm["id"]): self._provisioned(vm)
            for vm in await self.client.list_vms()
            if vm.get("id") in wanted
        }

    async def stop(self, provider_vm_id: str) -> None:
        raise Conflict(
            f"Fluence VM {provider_vm_id}: Fluence VMs cannot be stopped, only terminated"
        )

    async def terminate(self, provider_vm_id: str) -> None:
        """Delete the VM at Fluence (harmless if it is gone) and forget its host key."""
        try:
            pvm: ProvisionedVM | None = await self.query(provider_vm_id)
        except NotFound:
            pvm = None
        if pvm is not None and pvm.status is not VMStatus.TERMINATED:
            await self.client.delete_vms([provider_vm_id])
        if pvm is not None and pvm.public_ip:  # the address may go to someone else's VM
            self.connector.pins.forget(pvm.public_ip, self.settings.ssh_port)

    async def update(
        self, provider_vm_id: str, *, name: str | None, open_ports: tuple[PortSpec, ...] | None
    ) -> None:
        """Rename the VM or replace its open ports (22 kept) with Fluence's PATCH."""
        change: dict[str, Any] = {"id": provider_vm_id}
        if name is not None:
            change["vmName"] = name
        if open_ports is not None:
            change["openPorts"] = [
                {"port": p.port, "protocol": p.protocol} for p in _with_ssh(open_ports)
            ]
        if len(change) > 1:
            await self.client.update_vms([change])

    def host(self, vm: ProvisionedVM) -> SSHHost:
        """The VM's SSH host; Conflict unless it is active with a public IP."""
        if vm.status is not VMStatus.ACTIVE or not vm.public_ip:
            raise Conflict(f"Fluence VM {vm.provider_vm_id} is {vm.status.value}, not active")
        target = SSHTarget(vm.public_ip, self.settings.ssh_port, self.settings.ssh_user)
        workdir = f"{self.settings.workdir.rstrip('/')}/{vm.provider_vm_id}"
        return SSHHost(
            vm.provider_vm_id, self.connector, target, address=vm.public_ip, workdir=workdir
        )

    async def close(self) -> None:
        await self.client.close()
        await self.connector.close()

    # -- internals --------------------------------------------------------------------

    async def _register_key(self) -> str:
        """The coordinator's public key, registered with Fluence once."""
        public_key = self.connector.key.public_key
        async with self._lock:
            if not self._key_registered:
                known = {str(k.get("publicKey", "")).strip() for k in await self.client.ssh_keys()}
                if public_key not in known:
                    await self.client.add_ssh_key(self.settings.ssh_key_name, public_key)
                    log.info("registered the coordinator's SSH key with Fluence")
                self._key_registered = True
        return public_key

    def _provisioned(self, vm: dict[str, Any]) -> ProvisionedVM:
        state = vm.get("status")
        if not isinstance(state, str) or state not in NATIVE_STATUS:
            raise ProviderError(f"Fluence VM {vm.get('id')}: unknown status {state!r}")
        status = NATIVE_STATUS[state]
        ports = tuple(
            PortSpec(int(p["port"]), str(p.get("protocol", "tcp")).lower())
            for p in vm.get("ports") or []
        )
        ip = vm.get("publicIp")
        return ProvisionedVM(
            provider_vm_id=str(vm["id"]),
            status=status,
            public_ip=str(ip) if ip else None,
            open_ports=ports,
            price_per_epoch_usd=_usd(vm.get("pricePerEpoch") or 0, "pricePerEpoch"),
            note=STATUS_NOTES.get(state),
        )


def _with_ssh(ports: tuple[PortSpec, ...]) -> tuple[PortSpec, ...]:
    """The ports to open, 22 first and always there."""
    rest = tuple(p for p in ports if p.port != 22)
    return (PortSpec(22), *rest)
