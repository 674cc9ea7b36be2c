"""Fixtures of the ledger tests: see databases.py."""

from ledger.databases import db_url, engine, ledger, postgres_url, sessions

__all__ = ["db_url", "engine", "ledger", "postgres_url", "sessions"]
