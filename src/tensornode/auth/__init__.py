"""Wallet sign-in: Hedera signed-message signatures, challenges, sessions, key sources."""
