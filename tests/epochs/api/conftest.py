"""The validation suite's fixtures (coordinator, scripted miners, MiniLM, databases)."""

from scoring.network.conftest import db_url, embedder

__all__ = ["db_url", "embedder"]
