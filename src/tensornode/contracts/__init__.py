"""Pydantic schemas of every wire format; no logic lives here."""
