"""A small typed client of the coordinator's REST API (httpx), used by the CLI.

Every failure becomes one of our errors with a one-line message: an API error
(``{"error": ...}``) keeps the API's message and HTTP status (:class:`ApiError`); a
coordinator that cannot be reached is an :class:`~tensornode.errors.UpstreamError`
naming the URL. Responses are parsed into the ``contracts.coordinator`` models.

Credentials: ``api_key`` is sent as a bearer token; ``wallet`` (accepted bare by a
dev-mode coordinator only) as the ``X-Wallet-Address`` header and, on ``POST /deploy``,
as the body's ``walletAddress`` like the guide's scripts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from tensornode.contracts.coordinator import (
    Constraints,
    DeploymentPublic,
    DeploymentsPublic,
    DeployResult,
    DockerUrlDeploy,
    MinerDeploy,
    MinerSpecIn,
    PortPublic,
    VMConfiguration,
    VMCreate,
    VMExecPublic,
    VMExecRequest,
    VMPublic,
    VMsPublic,
)
from tensornode.errors import TensorNodeError, UpstreamError

DEFAULT_URL = "http://127.0.0.1:8000"
Model = TypeVar("Model", bound=BaseModel)


class ApiError(TensorNodeError):
    """The coordinator answered an error; ``message`` is its ``error`` field."""


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    if isinstance(body, dict) and "detail" in body:  # FastAPI's default shape
        return str(body["detail"])
    reason = response.reason_phrase or "error"
    return f"the coordinator answered {response.status_code} {reason}"


class CoordinatorClient:
    """The coordinator's API as methods; use ``async with`` to close its connections."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        wallet: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.wallet = wallet
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        if wallet:
            headers["X-Wallet-Address"] = wallet
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport ---------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """Send a request; an error status or a transport failure raises our error."""
        try:
            response = await self._http.request(
                method, path, json=json, params=params, files=files, data=data
            )
        except httpx.TimeoutException:
            raise UpstreamError(
                f"the coordinator at {self.base_url} did not answer {method} {path} in time"
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"cannot reach the coordinator at {self.base_url} ({type(exc).__name__});"
                " is it running? (tensornode up)"
            ) from None
        if response.is_error:
            raise ApiError(_error_message(response), status=response.status_code)
        return response

    async def _get_model(self, model: type[Model], method: str, path: str, **kw: Any) -> Model:
        response = await self.request(method, path, **kw)
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError):
            raise UpstreamError(
                f"the coordinator's answer to {method} {path} is not a {model.__name__}"
            ) from None

    # -- API -----------------------------------------------------------------------------

    async def deploy(
        self,
        *,
        instances: int = 1,
        name: str | None = None,
        configuration: str | None = None,
        max_price_usd: str | None = None,
        open_ports: Sequence[int] | None = None,
        miner: MinerSpecIn | None = None,
    ) -> DeployResult:
        """``POST /deploy``: rent VMs, optionally deploying a miner on each."""
        ports = [PortPublic(port=p) for p in open_ports] if open_ports is not None else None
        body = VMCreate(
            wallet_address=self.wallet,
            constraints=Constraints.model_validate(
                {"basicConfiguration": configuration, "maxTotalPricePerEpochUsd": max_price_usd}
            ),
            vm_configuration=VMConfiguration(name=name, open_ports=ports),
            instances=instances,
            instance_name=name,
            miner=miner,
        )
        payload = body.model_dump(mode="json", by_alias=True, exclude_none=True)
        return await self._get_model(DeployResult, "POST", "/deploy", json=payload)

    async def list_vms(self) -> VMsPublic:
        return await self._get_model(VMsPublic, "GET", "/vms")

    async def get_vm(self, vm_id: str) -> VMPublic:
        return await self._get_model(VMPublic, "GET", f"/vms/{vm_id}")

    async def stop_miner(self, vm_id: str) -> DeploymentPublic:
        """Stop the VM's current miner (the VM stays rented)."""
        return await self._get_model(DeploymentPublic, "POST", f"/vms/{vm_id}/docker/stop")

    async def delete_vm(self, vm_id: str) -> VMPublic:
        """Stop the VM's miner and terminate the VM."""
        return await self._get_model(VMPublic, "DELETE", f"/vms/{vm_id}")

    async def exec_on_vm(
        self, vm_id: str, command: str | list[str], *, timeout: float | None = None
    ) -> VMExecPublic:
        """Run a command on the VM (owner only): its output and exit code."""
        payload = VMExecRequest(command=command, timeout=timeout).model_dump(mode="json")
        return await self._get_model(VMExecPublic, "POST", f"/vms/{vm_id}/exec", json=payload)

    async def vm_logs(self, vm_id: str, *, tail: int = 200) -> str:
        response = await self.request("GET", f"/vms/{vm_id}/logs", params={"tail": tail})
        return response.text

    async def deploy_builtin(self, vm_id: str, spec: MinerDeploy) -> DeploymentPublic:
        payload = spec.model_dump(mode="json")
        return await self._get_model(DeploymentPublic, "POST", f"/vms/{vm_id}/miner", json=payload)

    async def deploy_docker_url(
        self, vm_id: str, url: str, *, port: int = 3000
    ) -> DeploymentPublic:
        payload = DockerUrlDeploy(dockerfile_url=url, port=port).model_dump(mode="json")
        return await self._get_model(
            DeploymentPublic, "POST", f"/vms/{vm_id}/docker/url", json=payload
        )

    async def deploy_dockerfile(
        self, vm_id: str, content: bytes, *, filename: str = "Dockerfile", port: int = 3000
    ) -> DeploymentPublic:
        files = {"file": (filename, content, "text/plain")}
        return await self._get_model(
            DeploymentPublic,
            "POST",
            f"/vms/{vm_id}/docker/upload",
            files=files,
            data={"port": str(port)},
        )

    async def deployments(self, vm_id: str) -> DeploymentsPublic:
        return await self._get_model(DeploymentsPublic, "GET", f"/vms/{vm_id}/deployments")
