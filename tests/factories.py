"""Factories shared by test packages: databases (SQLite, PostgreSQL), settings, wallets."""

from __future__ import annotations

import itertools
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tensornode.config import Settings

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
DB_BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
_wallets = itertools.count(100_000 + secrets.randbelow(10_000) * 100)


def new_wallet() -> str:
    """A fresh Hedera account id, so tests sharing nothing never see each other's rows."""
    return f"0.0.{next(_wallets)}"


def wallet(address: str) -> dict[str, str]:
    """Dev-mode identity headers."""
    return {"X-Wallet-Address": address}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_unavailable() -> str | None:
    """Why PostgreSQL tests cannot run here, or None."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at 127.0.0.1:5432 unreachable: {str(exc).strip()[:200]}"


@contextmanager
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of ``backend``; PostgreSQL ones are dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'tensornode-test.db'}"
        return
    import psycopg

    reason = postgres_unavailable()
    if reason is not None:
        print(f"skipping: {reason}")
        pytest.skip(reason)
    name = f"tensornode_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


PUBLIC_URL = "http://coord.test"
"""The ``auth.public_url`` of production-mode coordinators under test."""


def production_overrides(dev_mode: bool) -> dict[str, dict[str, Any]]:
    """Outside dev mode a coordinator refuses to start without its own accounts, a public
    URL and an explicit opt-in to the local provider: what tests give it."""
    if dev_mode:
        return {"coordinator": {}, "validator": {}, "rewards": {}, "auth": {}}
    return {
        "coordinator": {"allow_local_provider": True},
        "validator": {"account": "0.0.9002"},
        "rewards": {"pool_account": "0.0.9000", "treasury_account": "0.0.9001"},
        "auth": {"public_url": PUBLIC_URL},
    }


def make_settings(data_dir: Path, db_url: str, *, dev_mode: bool = True) -> Settings:
    """Settings for a coordinator under test: fast polls, a short VM launch."""
    prod = production_overrides(dev_mode)
    return Settings(
        data_dir=data_dir,
        dev_mode=dev_mode,
        database_url=db_url,
        coordinator={
            "health_deadline_s": 60.0,
            "health_poll_interval_s": 0.1,
            **prod["coordinator"],
        },  # type: ignore[arg-type]
        local_provider={"launch_seconds": 0.2},  # type: ignore[arg-type]
        monitor={"enabled": False},  # type: ignore[arg-type]  # tests run monitor passes themselves
        validator={"in_process": False, **prod["validator"]},  # type: ignore[arg-type]  # and validation rounds
        rewards={"scheduler": False, **prod["rewards"]},  # type: ignore[arg-type]  # and epoch settlement
        auth=prod["auth"],  # type: ignore[arg-type]
    )
