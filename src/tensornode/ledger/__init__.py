"""Ledgers: where rewards are held and paid (``base`` protocol, ``local`` SQL implementation)."""
