"""A fake Fluence VM API, following the documented request and response shapes
(``reference/prior-art.md``):

- auth ``X-API-KEY: <key>`` (or ``Authorization: Bearer <key>`` when ``auth_header`` says
  so); anything else is 401 ``{"error": "Unauthorized"}``;
- ``GET /marketplace/basic_configurations`` → ``["cpu-4-ram-8gb-storage-25gb", ...]``;
- ``POST /vms/v3/estimate`` ``{constraints, instances}`` → ``{depositAmountUsdc,
  depositEpochs, totalPricePerEpoch, maxPricePerEpoch, instances}``;
- ``POST /vms/v3`` ``{constraints, instances, vmConfiguration}`` → ``[{vmId, vmName}]``;
  422 ``{"error": "No suitable offer found"}`` when no configuration fits the constraints;
- ``GET /vms/v3`` → VMs with ``id, vmName, status, pricePerEpoch, createdAt, nextBillingAt,
  osImage, resources, datacenter, publicIp (null until Active), ports, reservedBalance,
  totalSpent``; each list call advances a launching VM one step of its plan;
- ``PATCH /vms/v3`` ``{"updates": [{id, vmName?, openPorts?}]}`` → 204 (10250 is reserved);
- ``DELETE /vms/v3`` ``{"vmIds": [...]}`` → 200; the VMs read ``Terminated``;
- ``GET|POST /ssh_keys`` ``{name, publicKey}``.

A VM's "public IP" is ``public_ip`` (127.0.0.1): the tests' sshd listens there, so the
SSH path a real VM takes runs for real. ``plans`` sets how the next VMs launch (a list of
statuses, one per list call); ``fail_next`` makes the next calls answer 5xx.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

PRICES = {
    "cpu-2-ram-4gb-storage-25gb": Decimal("0.75"),
    "cpu-4-ram-8gb-storage-25gb": Decimal("1.50"),
    "cpu-8-ram-16gb-storage-50gb": Decimal("2.80"),
}
STATUSES = {
    "New",
    "Launching",
    "Active",
    "SmallBalance",
    "InsufficientFunds",
    "Terminated",
    "Stopped",
}
DEFAULT_PLAN = ("New", "Launching", "Active")


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


@dataclass
class FakeVM:
    id: str
    name: str
    slug: str
    price: Decimal
    ports: list[dict[str, Any]]
    ssh_keys: list[str]
    os_image: str
    plan: deque[str]
    status: str = "New"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def advance(self) -> None:
        if self.plan and self.status not in {"Terminated", "Stopped"}:
            self.status = self.plan.popleft()


class FakeFluence:
    """Fluence's VM API in memory (see the module docstring)."""

    def __init__(
        self,
        *,
        api_key: str = "fl-test-key",
        auth_header: str = "X-API-KEY",
        public_ip: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.auth_header = auth_header
        self.public_ip = public_ip
        self.prices = dict(PRICES)
        self.vms: dict[str, FakeVM] = {}
        self.ssh_keys: list[dict[str, str]] = []
        self.plans: deque[list[str]] = deque()
        self.failures: deque[int] = deque()
        self.requests: list[tuple[str, str, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/marketplace/basic_configurations", self._configurations),
                Route("/vms/v3/estimate", self._estimate, methods=["POST"]),
                Route("/vms/v3/default_images", self._images),
                Route("/vms/v3", self._vms, methods=["GET", "POST", "PATCH", "DELETE"]),
                Route("/ssh_keys", self._keys, methods=["GET", "POST"]),
            ]
        )

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    # -- test controls ----------------------------------------------------------------

    def plan_next(self, *statuses: str) -> None:
        """The next deployed VM goes through ``statuses``, one per list call."""
        assert all(s in STATUSES for s in statuses), statuses
        self.plans.append(list(statuses))

    def fail_next(self, *codes: int) -> None:
        """The next calls answer these 5xx statuses, in order."""
        self.failures.extend(codes)

    def set_status(self, vm_id: str, status: str) -> None:
        """Fluence changes a VM's status on its own (e.g. ``Terminated`` by the provider)."""
        self.vms[vm_id].status = status
        self.vms[vm_id].plan.clear()

    # -- routes -----------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        if self.auth_header == "Authorization":
            return request.headers.get("authorization") == f"Bearer {self.api_key}"
        return request.headers.get("x-api-key") == self.api_key

    async def _gate(self, request: Request) -> tuple[Any, Response | None]:
        body: Any = None
        if request.method in {"POST", "PATCH", "DELETE"}:
            try:
                body = await request.json()
            except ValueError:
                return None, _error("Invalid JSON body", 400)
        self.requests.append((request.method, request.url.path, body))
        if self.failures:
            return body, _error("Internal Server Error", self.failures.popleft())
        if not self._authorized(request):
            return body, _error("Unauthorized", 401)
        return body, None

    async def _configurations(self, request: Request) -> Response:
        _, refused = await self._gate(request)
        return refused or JSONResponse(sorted(self.prices))

    async def _images(self, request: Request) -> Response:
        _, refused = await self._gate(request)
        return refused or JSONResponse(
            [{"id": "ubuntu-24.04", "name": "Ubuntu 24.04", "downloadUrl": "https://x/u.qcow2"}]
        )

    def _offer(self, constraints: Any) -> tuple[str, Decimal] | Response:
        if not isinstance(constraints, dict):
            return _error("constraints must be an object", 400)
        slug = constraints.get("basicConfiguration", "cpu-2-ram-4gb-storage-25gb")
        cap_raw = constraints.get("maxTotalPricePerEpochUsd")
        if cap_raw is not None and not isinstance(cap_raw, str):
            return _error("maxTotalPricePerEpochUsd must be a string", 400)
        try:
            cap = Decimal(cap_raw) if cap_raw is not None else None
        except InvalidOperation:
            return _error("maxTotalPricePerEpochUsd is not a number", 400)
        price = self.prices.get(slug)
        if price is None or (cap is not None and price > cap):
            return _error("No suitable offer found", 422)
        return slug, price

    async def _estimate(self, request: Request) -> Response:
        body, refused = await self._gate(request)
        if refused:
            return refused
        offer = self._offer(body.get("constraints"))
        if isinstance(offer, Response):
            return offer
        instances = int(body.get("instances", 1))
        total = offer[1] * instances
        return JSONResponse(
            {
                "depositAmountUsdc": str(total * 3),
                "depositEpochs": 3,
                "totalPricePerEpoch": str(total),
                "maxPricePerEpoch": str(offer[1]),
                "instances": instances,
            }
        )

    async def _vms(self, request: Request) -> Response:
        body, refused = await self._gate(request)
        if refused:
            return refused
        handler = {
            "GET": self._list,
            "POST": self._deploy,
            "PATCH": self._patch,
            "DELETE": self._delete,
        }[request.method]
        return handler(body)

    def _deploy(self, body: Any) -> Response:
        offer = self._offer(body.get("constraints"))
        if isinstance(offer, Response):
            return offer
        config = body.get("vmConfiguration") or {}
        ports = config.get("openPorts") or []
        if any(p.get("port") == 10250 for p in ports):
            return _error("Port 10250 is reserved", 422)
        keys = config.get("sshKeys") or []
        if not keys or not all(isinstance(k, str) and k.startswith("ssh-") for k in keys):
            return _error("vmConfiguration.sshKeys must hold public keys", 400)
        created = []
        for _ in range(int(body.get("instances", 1))):
            vm = FakeVM(
                id=f"0x{uuid.uuid4().hex[:20]}",
                name=str(config.get("name", "vm")),
                slug=offer[0],
                price=offer[1],
                ports=[
                    {"port": int(p["port"]), "protocol": p.get("protocol", "tcp").upper()}
                    for p in ports
                ],
                ssh_keys=list(keys),
                os_image=str(
                    config.get("osImage", "https://images.fluence.dev/ubuntu-24.04.qcow2")
                ),
                plan=deque(self.plans.popleft() if self.plans else DEFAULT_PLAN),
            )
            vm.advance()
            self.vms[vm.id] = vm
            created.append({"vmId": vm.id, "vmName": vm.name})
        return JSONResponse(created, status_code=201)

    def _list(self, body: Any) -> Response:
        rows = []
        for vm in self.vms.values():
            vm.advance()
            active = vm.status in {"Active", "SmallBalance"}
            rows.append(
                {
                    "id": vm.id,
                    "vmName": vm.name,
                    "status": vm.status,
                    "pricePerEpoch": str(vm.price),
                    "createdAt": vm.created_at.isoformat(),
                    "nextBillingAt": (vm.created_at + timedelta(days=1)).isoformat(),
                    "osImage": vm.os_image,
                    "resources": [
                        {"type": "VCPU", "quantity": int(vm.slug.split("-")[1])},
                        {"type": "PUBLIC_IP", "quantity": 1},
                    ],
                    "datacenter": {"countryCode": "DE", "cityCode": "FRA", "tier": 3},
                    "publicIp": self.public_ip if active else None,
                    "ports": vm.ports,
                    "reservedBalance": str(vm.price * 2),
                    "totalSpent": "0",
                }
            )
        return JSONResponse(rows)

    def _patch(self, body: Any) -> Response:
        for update in body.get("updates", []):
            vm = self.vms.get(update.get("id"))
            if vm is None:
                return _error(f"VM {update.get('id')} not found", 404)
            if "openPorts" in update:
                if any(p.get("port") == 10250 for p in update["openPorts"]):
                    return _error("Port 10250 is reserved", 422)
                vm.ports = [
                    {"port": int(p["port"]), "protocol": p.get("protocol", "tcp").upper()}
                    for p in update["openPorts"]
                ]
            if "vmName" in update:
                vm.name = str(update["vmName"])
        return Response(status_code=204)

    def _delete(self, body: Any) -> Response:
        for vm_id in body.get("vmIds", []):
            if vm_id in self.vms:
                self.set_status(vm_id, "Terminated")
        return JSONResponse({"deleted": body.get("vmIds", [])})

    async def _keys(self, request: Request) -> Response:
        body, refused = await self._gate(request)
        if refused:
            return refused
        if request.method == "GET":
            return JSONResponse(self.ssh_keys)
        if not isinstance(body.get("publicKey"), str) or not body.get("name"):
            return _error("name and publicKey are required", 400)
        self.ssh_keys.append({"name": body["name"], "publicKey": body["publicKey"], "active": True})
        return JSONResponse(self.ssh_keys[-1], status_code=201)
