"""Shapes shared by every API."""

from __future__ import annotations

from pydantic import BaseModel

MAX_ROW_NUMBER = 2**31 - 1
"""The largest id, epoch number or offset a query may name: what every database's integer
column holds (a larger one is a 422, not a database overflow and a 500)."""


class ErrorBody(BaseModel):
    """Every error on every API: ``{"error": "one line"}``."""

    error: str
