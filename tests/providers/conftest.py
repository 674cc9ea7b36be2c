"""Fixtures of the provider tests: a local VM directory and helpers about processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tensornode.providers.local_host import LocalHost, process_start_time

PY = sys.executable


@pytest.fixture
def vm_dir(tmp_path: Path) -> Path:
    path = tmp_path / "vms" / "local-0123456789ab"
    (path / "work").mkdir(parents=True)
    return path


@pytest.fixture
def host(vm_dir: Path) -> Iterator[LocalHost]:
    host = LocalHost("local-0123456789ab", vm_dir)
    yield host
    # whatever a test left running is killed: never leak processes out of the suite
    asyncio.run(host.kill_all(grace=0.5))


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie counts as exited)."""
    return process_start_time(pid) is None


async def wait_until_gone(pid: int, deadline_s: float = 10.0) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not gone(pid):
        if loop.time() > end:
            return False
        await asyncio.sleep(0.05)
    return True


async def eventually(check: Callable[[], Awaitable[bool]], deadline_s: float = 10.0) -> bool:
    """Poll ``check`` until it is true (True) or the deadline passes (False)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not await check():
        if loop.time() > end:
            return False
        await asyncio.sleep(0.05)
    return True
