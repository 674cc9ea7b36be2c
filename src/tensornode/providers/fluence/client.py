"""A client of Fluence's VM marketplace API, as documented (see ``reference/prior-art.md``).

Base URL, the VM routes' version path (``/vms/v3``) and the auth header (``X-API-KEY:
<key>``, or ``Authorization: Bearer <key>`` as before January 2026) are configurable; the
transport is injectable (tests pass the fake Fluence server's). Requests time out;
5xx answers, 429 and network errors are retried with exponential backoff — except a
deploy, which Fluence cannot deduplicate, so it is retried only when the request never
left (connect errors). 4xx answers become our errors with Fluence's own message:
422 ``No suitable offer found`` is an InvalidInput (422) that tells the user what to
change. The API key is sent in a header only: never logged, never in an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from tensornode.config import FluenceSettings
from tensornode.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    ProviderError,
    TensorNodeError,
)

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
JSON = dict[str, Any]

_OFFER_HINT = (
    "raise maxTotalPricePerEpochUsd, pick another basicConfiguration or datacenter, "
    "or try again later"
)


class FluenceClient:
    """Fluence's REST API: VMs, estimates, configurations, default images, SSH keys."""

    def __init__(
        self,
        *,
        api_key: SecretStr | None,
        base_url: str = "https://api.fluence.dev",
        vms_path: str = "/vms/v3",
        auth_header: str = "X-API-KEY",
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if api_key is None or not api_key.get_secret_value():
            raise ConfigurationError(
                "the fluence provider needs an API key: set TENSORNODE_FLUENCE__API_KEY"
            )
        key = api_key.get_secret_value()
        header = (
            {"Authorization": f"Bearer {key}"}
            if auth_header == "Authorization"
            else {"X-API-KEY": key}
        )
        self.vms_path = "/" + vms_path.strip("/")
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={**header, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    @classmethod
    def from_settings(
        cls, settings: FluenceSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> FluenceClient:
        return cls(
            api_key=settings.api_key,
            base_url=settings.api_url,
            vms_path=settings.vms_path,
            auth_header=settings.auth_header,
            timeout=settings.timeout_s,
            retries=settings.retries,
            backoff=settings.backoff_s,
            transport=transport,
        )

    async def close(self) -> None:
        await self._http.aclose()

    # -- VMs --------------------------------------------------------------------------

    async def deploy(self, body: Mapping[str, Any]) -> list[JSON]:
        """``POST /vms/v3``: ``[{vmId, vmName}]``."""
        data = await self._request("POST", self.vms_path, json=body, idempotent=False)
        return _list_of_objects(data, "deploy")

    async def list_vms(self) -> list[JSON]:
        """``GET /vms/v3``: every VM of the account."""
        return _list_of_objects(await self._request("GET", self.vms_path), "list")

    async def update_vms(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """``PATCH /vms/v3`` ``{"updates": [{id, vmName?, openPorts?}]}``."""
        await self._request("PATCH", self.vms_path, json={"updates": list(updates)})

    async def delete_vms(self, vm_ids: Sequence[str]) -> None:
        """``DELETE /vms/v3`` ``{"vmIds": [...]}``."""
        await self._request("DELETE", self.vms_path, json={"vmIds": list(vm_ids)})

    async def estimate(self, constraints: Mapping[str, Any], instances: int = 1) -> JSON:
        """``POST /vms/v3/estimate``: deposit and price per epoch (USD strings or numbers)."""
        data = await self._request(
            "POST",
            f"{self.vms_path}/estimate",
            json={"constraints": dict(constraints), "instances": instances},
        )
        if not isinstance(data, dict):
            raise ProviderError("Fluence estimate: unexpected answer (not an object)")
        return data

    async def default_images(self) -> list[JSON]:
        return _list_of_objects(
            await self._request("GET", f"{self.vms_path}/default_images"), "images"
        )

    async def basic_configurations(self) -> list[str]:
        """``GET /marketplace/basic_configurations``: slugs (``cpu-4-ram-8gb-storage-25gb``)."""
        data = await self._request("GET", "/marketplace/basic_configurations")
        if not isinstance(data, list) or not all(isinstance(s, str) for s in data):
            raise ProviderError("Fluence configurations: unexpected answer (not a list of slugs)")
        return list(data)

    # -- SSH keys ---------------------------------------------------------------------

    async def ssh_keys(self) -> list[JSON]:
        return _list_of_objects(await self._request("GET", "/ssh_keys"), "ssh keys")

    async def add_ssh_key(self, name: str, public_key: str) -> None:
        await self._request("POST", "/ssh_keys", json={"name": name, "publicKey": public_key})

    # -- transport --------------------------------------------------------------------

    async def _request(
        self, method: str, path: str, *, json: Any = None, idempotent: bool = True
    ) -> Any:
        """One API call with retries (see the module docstring); the decoded JSON or None."""
        attempt = 0
        while True:
            try:
                resp = await self._http.request(method, path, json=json)
            except httpx.ConnectError as exc:
                problem: str = f"cannot connect ({type(exc).__name__})"
            except httpx.TransportError as exc:
                if not idempotent:  # it may have been received: a retry could rent twice
                    raise ProviderError(
                        f"Fluence {method} {path}: {type(exc).__name__}; the request may have "
                        "been received: check the Fluence console before retrying"
                    ) from None
                problem = type(exc).__name__
            else:
                if resp.status_code < 400:
                    return _decode(resp)
                if resp.status_code not in RETRYABLE_STATUS or (
                    not idempotent and resp.status_code != 429
                ):
                    raise _error(method, path, resp)
                problem = f"HTTP {resp.status_code}"
                if attempt >= self.retries:
                    raise _error(method, path, resp)
            if attempt >= self.retries:
                raise ProviderError(
                    f"Fluence {method} {path} failed after {attempt + 1} attempts: {problem}"
                )
            delay = self.backoff * 2**attempt
            log.warning("Fluence %s %s: %s; retrying in %.2g s", method, path, problem, delay)
            await asyncio.sleep(delay)
            attempt += 1


def _decode(resp: httpx.Response) -> Any:
    if resp.status_code == 204 or not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        raise ProviderError(
            f"Fluence answered HTTP {resp.status_code} with a body that is not JSON"
        ) from None


def _message(resp: httpx.Response) -> str:
    """Fluence's own error text (``{"error": ...}``, or ``message``), kept short."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:200] or resp.reason_phrase
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            if isinstance(body.get(key), str):
                return str(body[key])[:300]
    return str(body)[:200]


def _error(method: str, path: str, resp: httpx.Response) -> TensorNodeError:
    status, message = resp.status_code, _message(resp)
    if status == 422:
        return InvalidInput(f"Fluence: {message}: {_OFFER_HINT}", status=422)
    if status in (401, 403):
        return ProviderError(
            f"Fluence refused the coordinator's API key (HTTP {status}: {message}): check "
            "TENSORNODE_FLUENCE__API_KEY and TENSORNODE_FLUENCE__AUTH_HEADER"
        )
    if status == 404:
        return NotFound(f"Fluence {method} {path}: {message}")
    if 400 <= status < 500:
        return InvalidInput(f"Fluence rejected the request (HTTP {status}): {message}")
    return ProviderError(f"Fluence {method} {path}: HTTP {status}: {message}")


def _list_of_objects(data: Any, what: str) -> list[JSON]:
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ProviderError(f"Fluence {what}: unexpected answer (not a list of objects)")
    return list(data)
