"""The Hedera mirror node's REST API (``/api/v1``): what happened on the ledger.

Read here: a transaction by id (``GET /transactions/{id}``, the id written
``0.0.2-1700000000-000000001``), an account's transactions, balances
(``GET /balances?account.id=``), an account's key (``GET /accounts/{id}``), whether an
account is associated with a token (``GET /accounts/{id}/tokens?token.id=``), and a
topic's messages in order (``GET /topics/{id}/messages``, following ``links.next``).
HTTP failures become :class:`~tensornode.errors.LedgerError`; 404 is "not there".
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from tensornode.errors import LedgerError

PAGE = 100


@dataclass(frozen=True)
class MirrorTransfer:
    account: str
    amount: int
    token_id: str | None = None  # None: HBAR


@dataclass(frozen=True)
class MirrorTransaction:
    """One transaction as the mirror node reports it once it reached consensus."""

    transaction_id: str  # in the SDK's form, 0.0.2@1700000000.000000001
    result: str  # SUCCESS, INSUFFICIENT_ACCOUNT_BALANCE, ...
    name: str  # CRYPTOTRANSFER, CONSENSUSSUBMITMESSAGE, ...
    memo: str
    consensus_timestamp: str
    transfers: tuple[MirrorTransfer, ...]

    def credited(self, account: str, token_id: str | None) -> int:
        """What ``account`` received in this transaction (HBAR, or ``token_id``)."""
        return sum(
            t.amount for t in self.transfers if t.account == account and t.token_id == token_id
        )


@dataclass(frozen=True)
class TopicMessage:
    sequence_number: int
    consensus_timestamp: str
    payer_account_id: str
    message: bytes
    running_hash: bytes


def mirror_transaction_id(transaction_id: str) -> str:
    """``0.0.2@1700000000.000000001`` → ``0.0.2-1700000000-000000001``."""
    payer, _, start = transaction_id.partition("@")
    seconds, _, nanos = start.partition(".")
    return f"{payer}-{seconds}-{nanos}"


def sdk_transaction_id(mirror_id: str) -> str:
    """``0.0.2-1700000000-000000001`` → ``0.0.2@1700000000.000000001``."""
    payer, seconds, nanos = mirror_id.rsplit("-", 2)
    return f"{payer}@{seconds}.{nanos}"


def _transaction(item: dict[str, Any]) -> MirrorTransaction:
    transfers = [MirrorTransfer(t["account"], int(t["amount"])) for t in item.get("transfers", [])]
    transfers += [
        MirrorTransfer(t["account"], int(t["amount"]), t["token_id"])
        for t in item.get("token_transfers", [])
    ]
    return MirrorTransaction(
        transaction_id=sdk_transaction_id(item["transaction_id"]),
        result=item["result"],
        name=item["name"],
        memo=base64.b64decode(item.get("memo_base64") or "").decode("utf-8", "replace"),
        consensus_timestamp=item["consensus_timestamp"],
        transfers=tuple(transfers),
    )


class MirrorNode:
    """A blocking client of one mirror node's REST API."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, client: httpx.Client | None = None):
        self._http = client or httpx.Client(timeout=timeout)
        self._owns = client is None
        self.base_url = base_url.rstrip("/")

    def close(self) -> None:
        if self._owns:
            self._http.close()

    def _get(self, path: str, params: dict[str, str | int] | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        try:
            response = self._http.get(url, params=params)
        except httpx.HTTPError as exc:
            raise LedgerError(f"the mirror node at {self.base_url} is unreachable: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise LedgerError(
                f"the mirror node answered {response.status_code} to GET {path}: "
                f"{response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise LedgerError(f"the mirror node sent malformed JSON for GET {path}") from exc

    def transaction(self, transaction_id: str) -> MirrorTransaction | None:
        """The transaction (its first record: not a duplicate), or None when unknown."""
        body = self._get(f"/api/v1/transactions/{mirror_transaction_id(transaction_id)}")
        items = [] if body is None else body.get("transactions", [])
        return _transaction(items[0]) if items else None

    def transactions(self, account: str, *, limit: int = PAGE) -> list[MirrorTransaction]:
        """The account's transactions, newest first."""
        params: dict[str, str | int] = {"account.id": account, "limit": limit, "order": "desc"}
        body = self._get("/api/v1/transactions", params)
        return [_transaction(item) for item in ([] if body is None else body["transactions"])]

    def balance(self, account: str, token_id: str | None = None) -> int:
        """The account's HBAR (or ``token_id``) balance; 0 for an account not found."""
        body = self._get("/api/v1/balances", {"account.id": account})
        rows = [] if body is None else body.get("balances", [])
        if not rows:
            return 0
        if token_id is None:
            return int(rows[0]["balance"])
        return sum(
            int(t["balance"]) for t in rows[0].get("tokens", []) if t["token_id"] == token_id
        )

    def account_key(self, account: str) -> dict[str, str] | None:
        """The account's key as the mirror shows it (``{"_type": ..., "key": hex}``)."""
        body = self._get(f"/api/v1/accounts/{account}")
        return None if body is None else body.get("key")

    def is_associated(self, account: str, token_id: str) -> bool:
        """Whether ``account`` may receive ``token_id`` (an association exists)."""
        body = self._get(f"/api/v1/accounts/{account}/tokens", {"token.id": token_id})
        return bool(body) and any(t["token_id"] == token_id for t in body.get("tokens", []))

    def topic_messages(self, topic_id: str) -> list[TopicMessage]:
        """Every message of the topic, in sequence order."""
        messages: list[TopicMessage] = []
        path: str | None = f"/api/v1/topics/{topic_id}/messages"
        params: dict[str, str | int] | None = {"limit": PAGE, "order": "asc"}
        while path:
            body = self._get(path, params)
            if body is None:
                raise LedgerError(f"topic {topic_id} is not on the mirror node at {self.base_url}")
            messages += [
                TopicMessage(
                    sequence_number=int(m["sequence_number"]),
                    consensus_timestamp=m["consensus_timestamp"],
                    payer_account_id=m["payer_account_id"],
                    message=base64.b64decode(m["message"]),
                    running_hash=base64.b64decode(m["running_hash"]),
                )
                for m in body.get("messages", [])
            ]
            path, params = (body.get("links") or {}).get("next"), None
        return messages
