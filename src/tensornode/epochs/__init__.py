"""Epochs: clock arithmetic, settlement (freeze, split, pay, publish), chained reports."""
