"""Real miners on loopback for ``miner check``: the guide's Flask example, the broken
miner (tests/miners/) and the reference miner (``tensornode miner serve``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from .servers import MINERS, TENSORNODE, free_port, start_server, stop_server


@pytest.fixture(scope="module")
def guide_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The miner guide's Flask example, run as the guide says (``python api/server.py``)."""
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    log = tmp_path_factory.mktemp("guide") / "server.log"
    cmd = [sys.executable, str(MINERS / "guide_flask_miner.py")]
    proc = start_server(cmd, f"http://127.0.0.1:{port}/health", log, env=env, deadline_s=30)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def broken_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Root URL of the broken miner; ``f"{url}/b/<break>"`` selects a way to break."""
    port = free_port()
    log = tmp_path_factory.mktemp("broken") / "server.log"
    cmd = [sys.executable, str(MINERS / "broken_miner.py"), "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(cmd, f"{url}/health", log, env=dict(os.environ), deadline_s=30)
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def reference_miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tensornode miner serve`` on loopback; it builds its tiny model on first use."""
    port = free_port()
    tmp = tmp_path_factory.mktemp("reference")
    cmd = [
        str(TENSORNODE),
        "miner",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(tmp / "data"),
    ]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(
        cmd, f"{url}/health", tmp / "server.log", env=dict(os.environ), deadline_s=180
    )
    yield url
    stop_server(proc)
