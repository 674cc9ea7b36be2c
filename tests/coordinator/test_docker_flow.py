"""The miner guide's Docker path end to end, through the coordinator, on a real engine.

``POST /deploy`` → active → ``POST /vms/$ID/docker/url`` (a Dockerfile served on
loopback) or ``/docker/upload`` (the guide's template shape) → the job builds and runs
the container → healthy → the miner answers through the mapped port and passes the
miner check → ``/docker/stop`` removes that container and no other.
"""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from factories import database_url, make_settings
from loopback import serving_bytes
from tensornode.miner.check import check_miner
from tensornode.runtimes.naming import container_name

from .conftest import client_for, running_app, wait_active, wait_state

pytestmark = pytest.mark.docker

WALLET = {"X-Wallet-Address": "0.0.424242"}
MINERS = Path(__file__).resolve().parents[1] / "miners"


def _inline(name: str) -> str:
    return base64.b64encode((MINERS / name).read_bytes()).decode()


STDLIB_DOCKERFILE = f"""\
FROM python:3.11-slim
WORKDIR /app
RUN echo {_inline("stdlib_miner.py")} | base64 -d > /app/miner.py
EXPOSE 3000
CMD ["python3", "/app/miner.py"]
""".encode()

GUIDE_DOCKERFILE = f"""\
# Dockerfile for LLM Miner
FROM python:3.11-slim
RUN pip install flask requests
COPY Dockerfile /app/Dockerfile
RUN mkdir -p /app/api && echo {_inline("guide_flask_miner.py")} | base64 -d > /app/api/server.py
WORKDIR /app
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \\
  CMD python -c "import urllib.request as r; r.urlopen('http://localhost:3000/health')" || exit 1
CMD ["python", "api/server.py"]
""".encode()


def _containers(name: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"name=^{name}$", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.split()


def _published_on(name: str) -> set[str]:
    out = subprocess.run(
        ["docker", "port", name], capture_output=True, text=True, timeout=60, check=True
    )
    # lines like "3000/tcp -> 127.0.0.1:20001"
    return {line.split(" -> ")[1].rsplit(":", 1)[0] for line in out.stdout.splitlines()}


@pytest.fixture
def dockerfile_url() -> Iterator[str]:
    """A loopback HTTP server serving the Dockerfile."""
    with serving_bytes(STDLIB_DOCKERFILE) as url:
        yield url


async def _new_active_vm(http: httpx.AsyncClient, name: str) -> str:
    resp = await http.post("/deploy", json={"walletAddress": WALLET["X-Wallet-Address"]})
    assert resp.status_code == 201, resp.text
    vm_id: str = resp.json()["deployment"]["vmId"]
    await http.patch(f"/vms/{vm_id}", json={"name": name}, headers=WALLET)
    await wait_active(http, vm_id, WALLET)
    return vm_id


async def test_dockerfile_url_and_upload_run_real_containers(
    docker_engine: None, tmp_path: Path, dockerfile_url: str
) -> None:
    with database_url("sqlite", tmp_path) as url:
        settings = make_settings(tmp_path / "data", url)
        async with running_app(settings) as app, client_for(app) as http:
            by_url = await _new_active_vm(http, "by-url")
            by_upload = await _new_active_vm(http, "by-upload")

            resp = await http.post(
                f"/vms/{by_url}/docker/url", json={"dockerfile_url": dockerfile_url}
            )
            assert resp.status_code == 202, resp.text
            resp = await http.post(
                f"/vms/{by_upload}/docker/upload",
                files={"file": ("Dockerfile", GUIDE_DOCKERFILE)},
                headers=WALLET,
            )
            assert resp.status_code == 202, resp.text

            url_dep = await wait_state(http, by_url, WALLET, "healthy")
            upload_dep = await wait_state(http, by_upload, WALLET, "healthy")
            for dep in (url_dep, upload_dep):
                report = await check_miner(dep["endpoint"], timeout=30.0, requests=2)
                assert report.ok, [r for r in report.results if r.status == "fail"]
                assert _containers(container_name(dep["id"])) == [container_name(dep["id"])]
                # the local provider's "public IP" is loopback: nothing is published beyond it
                assert _published_on(container_name(dep["id"])) == {"127.0.0.1"}

            async with httpx.AsyncClient(timeout=30.0) as miner:
                answer = await miner.post(
                    f"{url_dep['endpoint']}/api/chat", json={"prompt": "Say hi"}
                )
            assert answer.status_code == 200
            assert answer.json()["response"]

            logs = await http.get(f"/vms/{by_url}/logs", params={"tail": 200}, headers=WALLET)
            assert "Successfully built" in logs.text or "writing image" in logs.text, logs.text

            resp = await http.post(f"/vms/{by_url}/docker/stop", headers=WALLET)
            assert resp.status_code in (200, 202), resp.text
            assert _containers(container_name(url_dep["id"])) == []
            # the other deployment's container keeps running
            assert _containers(container_name(upload_dep["id"])) == [
                container_name(upload_dep["id"])
            ]
        # leaving running_app terminated both VMs: no container of this test is left
        assert _containers(container_name(upload_dep["id"])) == []
