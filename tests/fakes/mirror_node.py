"""A fake Hedera mirror node: ``GET /api/v1/accounts/{idOrAliasOrEvmAddress}`` only.

It follows the mirror node's documented REST responses:

- 200 ``{"account": "0.0.N", "key": {"_type": "ED25519" | "ECDSA_SECP256K1" |
  "ProtobufEncoded", "key": HEX}, "balance": {...}, ...}``;
- 404 ``{"_status": {"messages": [{"message": "Not found"}]}}`` for an unknown account;
- 400 ``{"_status": {"messages": [{"message": "Invalid parameter: idOrAliasOrEvmAddress"}]}}``
  for a malformed id.

Use ``transport()`` with an ``httpx.AsyncClient``; ``requests`` counts the lookups.
"""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_ID = re.compile(r"^\d+\.\d+\.\d+$|^\d+$|^(0x)?[0-9a-fA-F]{40}$")


def _status(message: str, code: int) -> JSONResponse:
    return JSONResponse({"_status": {"messages": [{"message": message}]}}, status_code=code)


class FakeMirrorNode:
    """Accounts and their keys, served as a mirror node's REST API."""

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, str] | None] = {}
        self.requests: list[str] = []
        self.app = Starlette(routes=[Route("/api/v1/accounts/{account}", self._account)])

    def add(self, account_id: str, key_type: str, key_hex: str) -> None:
        """An account whose key has mirror ``_type`` ``key_type`` (``ED25519``, ...)."""
        self.keys[account_id] = {"_type": key_type, "key": key_hex}

    def transport(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app)

    async def _account(self, request: Request) -> JSONResponse:
        account = request.path_params["account"]
        self.requests.append(account)
        if not _ID.match(account):
            return _status("Invalid parameter: idOrAliasOrEvmAddress", 400)
        if account not in self.keys:
            return _status("Not found", 404)
        return JSONResponse(
            {
                "account": account,
                "alias": None,
                "auto_renew_period": 7776000,
                "balance": {"balance": 100_000_000, "timestamp": "1700000000.000000000"},
                "deleted": False,
                "evm_address": "0x" + "0" * 40,
                "key": self.keys[account],
                "memo": "",
                "receiver_sig_required": False,
            }
        )
