"""A fake Hedera mirror node, in the mirror node's documented REST shapes.

Alone it serves account keys added with :meth:`FakeMirrorNode.add`; given a
:class:`~fakes.hedera_node.FakeHederaNode` it also serves that node's state:
``/api/v1/transactions/{id}``, ``/api/v1/transactions?account.id=``,
``/api/v1/balances?account.id=``, ``/api/v1/accounts/{id}/tokens?token.id=``,
``/api/v1/topics/{id}/messages`` (paged, ``links.next``). ``lag`` hides records newer
than that many seconds, as a mirror node a few seconds behind consensus does.

Accounts:

- 200 ``{"account": "0.0.N", "key": {"_type": "ED25519" | "ECDSA_SECP256K1" |
  "ProtobufEncoded", "key": HEX}, "balance": {...}, ...}``;
- 404 ``{"_status": {"messages": [{"message": "Not found"}]}}`` for an unknown account;
- 400 ``{"_status": {"messages": [{"message": "Invalid parameter: idOrAliasOrEvmAddress"}]}}``
  for a malformed id.

Use ``transport()`` with an ``httpx.AsyncClient``; ``requests`` counts the lookups.
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fakes.hedera_node import FakeHederaNode, Record

_ID = re.compile(r"^\d+\.\d+\.\d+$|^\d+$|^(0x)?[0-9a-fA-F]{40}$")


def _status(message: str, code: int) -> JSONResponse:
    return JSONResponse({"_status": {"messages": [{"message": message}]}}, status_code=code)


class FakeMirrorNode:
    """Accounts and their keys, served as a mirror node's REST API."""

    def __init__(self, node: FakeHederaNode | None = None) -> None:
        self.keys: dict[str, dict[str, str] | None] = {}
        self.requests: list[str] = []
        self.node = node
        self.lag = 0.0
        self.app = Starlette(
            routes=[
                Route("/api/v1/accounts/{account}", self._account),
                Route("/api/v1/accounts/{account}/tokens", self._tokens),
                Route("/api/v1/balances", self._balances),
                Route("/api/v1/transactions", self._transactions),
                Route("/api/v1/transactions/{transaction_id}", self._transaction),
                Route("/api/v1/topics/{topic}/messages", self._messages),
            ]
        )

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
        if self.node is not None and account in self.node.accounts:
            key = self.node.accounts[account].public_key.hex()
            self.keys.setdefault(account, {"_type": "ED25519", "key": key})
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

    # -- served from the fake consensus node ------------------------------------------

    def _visible(self) -> list[Record]:
        assert self.node is not None, "this mirror node has no consensus node behind it"
        horizon = time.time_ns() - int(self.lag * 1e9)
        with self.node._lock:
            records = list(self.node.records.values())
        return sorted(
            (r for r in records if r.consensus_ns <= horizon), key=lambda r: r.consensus_ns
        )

    async def _tokens(self, request: Request) -> JSONResponse:
        assert self.node is not None
        holder = self.node.accounts.get(request.path_params["account"])
        if holder is None:
            return _status("Not found", 404)
        wanted = request.query_params.get("token.id")
        tokens = [
            {
                "token_id": token,
                "balance": balance,
                "automatic_association": False,
                "freeze_status": "NOT_APPLICABLE",
                "kyc_status": "NOT_APPLICABLE",
                "created_timestamp": "1700000000.000000000",
            }
            for token, balance in holder.tokens.items()
            if wanted is None or token == wanted
        ]
        return JSONResponse({"tokens": tokens, "links": {"next": None}})

    async def _balances(self, request: Request) -> JSONResponse:
        assert self.node is not None
        account = request.query_params.get("account.id", "")
        holder = self.node.accounts.get(account)
        rows = (
            []
            if holder is None
            else [
                {
                    "account": account,
                    "balance": holder.balance,
                    "tokens": [{"token_id": t, "balance": b} for t, b in holder.tokens.items()],
                }
            ]
        )
        return JSONResponse(
            {"timestamp": _timestamp(time.time_ns()), "balances": rows, "links": {"next": None}}
        )

    async def _transaction(self, request: Request) -> JSONResponse:
        wanted = request.path_params["transaction_id"]
        found = [_mirror_record(r) for r in self._visible() if _mirror_id(r) == wanted]
        if not found:
            return _status("Not found", 404)
        return JSONResponse({"transactions": found})

    async def _transactions(self, request: Request) -> JSONResponse:
        account = request.query_params.get("account.id")
        limit = int(request.query_params.get("limit", "25"))
        records = [
            r
            for r in self._visible()
            if account is None
            or account == r.payer
            or any(a == account for a, _ in r.transfers)
            or any(a == account for _, a, _ in r.token_transfers)
        ]
        if request.query_params.get("order", "desc") == "desc":
            records.reverse()
        return JSONResponse(
            {"transactions": [_mirror_record(r) for r in records[:limit]], "links": {"next": None}}
        )

    async def _messages(self, request: Request) -> JSONResponse:
        assert self.node is not None
        topic_id = request.path_params["topic"]
        topic = self.node.topics.get(topic_id)
        if topic is None:
            return _status("Not found", 404)
        limit = int(request.query_params.get("limit", "25"))
        after = int(request.query_params.get("sequencenumber", "gt:0").split(":")[1])
        horizon = time.time_ns() - int(self.lag * 1e9)
        rows = [
            m
            for m in topic.messages
            if m["sequence_number"] > after and m["consensus_ns"] <= horizon
        ]
        page = rows[:limit]
        following = None
        if len(rows) > limit:
            last = page[-1]["sequence_number"]
            following = f"/api/v1/topics/{topic_id}/messages?limit={limit}&sequencenumber=gt:{last}"
        return JSONResponse(
            {
                "messages": [
                    {
                        "chunk_info": None,
                        "consensus_timestamp": _timestamp(m["consensus_ns"]),
                        "message": base64.b64encode(m["message"]).decode(),
                        "payer_account_id": m["payer"],
                        "running_hash": base64.b64encode(m["running_hash"]).decode(),
                        "running_hash_version": 3,
                        "sequence_number": m["sequence_number"],
                        "topic_id": topic_id,
                    }
                    for m in page
                ],
                "links": {"next": following},
            }
        )


def _timestamp(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _mirror_id(record: Record) -> str:
    payer, _, start = record.transaction_id.partition("@")
    seconds, _, nanos = start.partition(".")
    return f"{payer}-{seconds}-{nanos}"


def _mirror_record(record: Record) -> dict[str, Any]:
    fee_moves = [(record.payer, -record.fee), ("0.0.98", record.fee)]
    hbar: dict[str, int] = {}
    for account, amount in [*record.transfers, *fee_moves]:
        hbar[account] = hbar.get(account, 0) + amount
    return {
        "charged_tx_fee": record.fee,
        "consensus_timestamp": _timestamp(record.consensus_ns),
        "entity_id": None,
        "memo_base64": base64.b64encode(record.memo.encode()).decode(),
        "name": record.name,
        "node": "0.0.3",
        "result": record.status.name,
        "scheduled": False,
        "transaction_id": _mirror_id(record),
        "transfers": [
            {"account": a, "amount": n, "is_approval": False} for a, n in sorted(hbar.items()) if n
        ],
        "token_transfers": [
            {"token_id": t, "account": a, "amount": n, "is_approval": False}
            for t, a, n in record.token_transfers
        ],
        "valid_duration_seconds": "120",
        "valid_start_timestamp": record.transaction_id.partition("@")[2],
    }
