"""Fixtures of the monitor tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .scripted_miner import ScriptedMiner, serve_scripted_miner


@pytest.fixture
async def scripted_miner() -> AsyncIterator[ScriptedMiner]:
    async with serve_scripted_miner() as miner:
        yield miner
