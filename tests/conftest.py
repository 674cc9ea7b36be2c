"""Suite-wide isolation: nothing a test does touches the user's ~/.tensornode.

Each area's fixtures live in its own package's conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

pytest_plugins = ["databases", "sshd"]  # db_url, db: a migrated database per backend; sshd

# Set before any test module builds Settings or spawns a child process (children inherit it).
_SUITE_DATA_DIR = Path(tempfile.mkdtemp(prefix="tensornode-suite-"))
os.environ["TENSORNODE_DATA_DIR"] = str(_SUITE_DATA_DIR)
for _name in list(os.environ):
    if _name.startswith("TENSORNODE_") and _name != "TENSORNODE_DATA_DIR":
        del os.environ[_name]
# Never reach a model hub from tests.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


ROOT = Path(__file__).resolve().parents[1]
DOCKER_BASE_IMAGE = "python:3.11-slim"
"""The image the test Dockerfiles name; tests/setup-services.sh builds it locally."""


def _docker_unready() -> str | None:
    """None if the engine answers and the base image exists, else why not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        return f"no Docker engine answers: {info.stderr.strip().splitlines()[-1:]}"
    image = subprocess.run(
        ["docker", "image", "inspect", DOCKER_BASE_IMAGE], capture_output=True, timeout=60
    )
    if image.returncode != 0:
        return f"the base image {DOCKER_BASE_IMAGE} is missing (tests/setup-services.sh builds it)"
    return None


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A running Docker engine with the base image; started here if it can be, else skip."""
    reason = _docker_unready()
    if reason is not None:
        setup = subprocess.run(
            ["bash", str(ROOT / "tests" / "setup-services.sh"), "docker"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        print(setup.stdout, setup.stderr)
        reason = _docker_unready()
    if reason is not None:
        print(f"docker tests skipped: {reason}")
        pytest.skip(f"Docker engine unavailable: {reason}")
