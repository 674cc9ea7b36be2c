"""Fixtures of the ledger tests: see databases.py and hedera_network.py."""

from ledger.databases import db_url, engine, ledger, postgres_url, sessions
from ledger.hedera_network import hedera_db, network

__all__ = ["db_url", "engine", "hedera_db", "ledger", "network", "postgres_url", "sessions"]
