"""Fixtures of the runtime tests: local VMs, a Docker engine, waiting for a miner."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tensornode.providers.base import PortSpec, VMSpec
from tensornode.providers.local import LocalProvider
from tensornode.providers.local_host import LocalHost
from tensornode.runtimes.naming import image_tag

ROOT = Path(__file__).resolve().parents[2]
MINERS = ROOT / "tests" / "miners"
BASE_IMAGE = "python:3.11-slim"


class LogSink:
    """Collects a deployment's log lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str) -> None:
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def deployment_id() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def built_images(docker_engine: None) -> Iterator[list[str]]:
    """Deployment ids whose images the test built; removed afterwards."""
    ids: list[str] = []
    yield ids
    for dep in ids:
        docker("rm", "--force", f"tn-{dep}")
        docker("rmi", "--force", image_tag(dep))


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[LocalProvider]:
    provider = LocalProvider(tmp_path, launch_seconds=0, port_range=(26000, 26999))
    yield provider
    for vm_dir in sorted((tmp_path / "vms").glob("local-*")):
        await provider.terminate(vm_dir.name)  # kills what a test left running


@pytest.fixture
async def vm_host(provider: LocalProvider) -> tuple[str, LocalHost, int]:
    """An active local VM with port 3000 open: (vm id, host, host port of 3000)."""
    vm = await provider.create(VMSpec("test", "cpu-2-ram-4gb-storage-25gb", (PortSpec(3000),)))
    return vm.provider_vm_id, provider.host(vm), vm.port_map[3000]


async def wait_healthy(endpoint: str, deadline_s: float = 90.0) -> httpx.Response | None:
    """GET ``endpoint``/health until it answers 200; None if it never did."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    async with httpx.AsyncClient(timeout=5.0) as client:
        while loop.time() < end:
            try:
                response = await client.get(f"{endpoint}/health")
                if response.status_code == 200:
                    return response
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.2)
    return None
