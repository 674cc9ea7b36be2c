"""Shapes shared by every API."""

from __future__ import annotations

from pydantic import BaseModel


class ErrorBody(BaseModel):
    """Every error on every API: ``{"error": "one line"}``."""

    error: str
