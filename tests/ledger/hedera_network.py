"""Fixtures of the Hedera tests: a fake consensus node (gRPC on loopback), a fake mirror
node (HTTP on loopback) serving its state, an operator funded on it, a database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hiero_sdk_python.crypto.private_key import PrivateKey
from pydantic import SecretStr
from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from fakes.hedera_node import FakeHederaNode
from fakes.mirror_node import FakeMirrorNode
from loopback import ThreadedServer
from tensornode.config import HederaSettings
from tensornode.db.models import Base
from tensornode.ledger.database import session_factory, sync_engine
from tensornode.ledger.hedera.models import HederaPayment, HederaTransaction

OPERATOR = "0.0.1000"
FUNDS = 10**12
HEDERA_TABLES: list[Table] = [HederaPayment.__table__, HederaTransaction.__table__]  # type: ignore[list-item]


@dataclass
class Network:
    node: FakeHederaNode
    mirror: FakeMirrorNode
    mirror_url: str
    operator_key: Any

    def settings(self, **overrides: Any) -> HederaSettings:
        fields: dict[str, Any] = {
            "network": "custom",
            "nodes": {self.node.address: "0.0.3"},
            "mirror_url": self.mirror_url,
            "operator_id": OPERATOR,
            "operator_key": SecretStr(self.operator_key.to_string_der()),
            "min_backoff_s": 0.01,
            "max_backoff_s": 0.05,
            "max_attempts": 6,
            "receipt_attempts": 3,
            "grpc_deadline_s": 5.0,
        }
        return HederaSettings(**{**fields, **overrides})

    def add_payee(self, account: str) -> Any:
        key = PrivateKey.generate_ed25519()
        self.node.add_account(account, key.public_key().to_bytes_raw())
        return key


@pytest.fixture
def network() -> Iterator[Network]:
    node = FakeHederaNode()
    node.start()
    key = PrivateKey.generate_ed25519()
    node.add_account(OPERATOR, key.public_key().to_bytes_raw(), FUNDS)
    mirror = FakeMirrorNode(node)
    server = ThreadedServer(mirror.app)
    server.start()
    try:
        yield Network(node, mirror, server.url, key)
    finally:
        server.stop()
        node.stop()


@pytest.fixture
def hedera_db(db_url: str) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """The Hedera tables, fresh, on SQLite and PostgreSQL (``db_url``'s backends)."""
    engine = sync_engine(db_url)
    Base.metadata.drop_all(engine, tables=HEDERA_TABLES)
    Base.metadata.create_all(engine, tables=HEDERA_TABLES)
    yield db_url, session_factory(engine)
    engine.dispose()
