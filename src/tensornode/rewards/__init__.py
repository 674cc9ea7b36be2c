"""Rewards: how an epoch's emission is split into integer payouts (pure functions)."""
