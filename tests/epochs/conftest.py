"""Fixtures of the epoch tests: the ledger tests' databases (see tests/ledger/databases.py)."""

from ledger.databases import db_url, engine, ledger, postgres_url, sessions

__all__ = ["db_url", "engine", "ledger", "postgres_url", "sessions"]
