"""The miner guide's deploy script against a real coordinator on loopback, in dev mode.

The script: ``POST /deploy {"walletAddress"}`` → ``.deployment.vmId``; poll ``GET
/vms/$ID`` until ``.status == "active"``; ``POST /vms/$ID/docker/url``. Once with httpx
(the script's steps one by one), once as the guide's own bash with curl.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loopback import ThreadedServer, serving_bytes
from tensornode.config import Settings

from .conftest import cleanup_with_fresh_core, running_app, wait_state

WALLET = "0.0.123456"
# a build that fails without any network: ``scratch`` has no shell for the RUN step
DOCKERFILE = b"FROM scratch\nRUN pip install my-miner\nEXPOSE 3000\n"


@pytest.fixture
def dockerfile_url() -> Iterator[str]:
    """A loopback HTTP server serving the Dockerfile."""
    with serving_bytes(DOCKERFILE) as url:
        yield url


async def test_guide_script_steps(settings: Settings, dockerfile_url: str) -> None:
    app_server = None
    try:
        from tensornode.coordinator.app import build_app

        app_server = ThreadedServer(build_app(settings))
        async with app_server, httpx.AsyncClient(base_url=app_server.url) as http:
            resp = await http.post("/deploy", json={"walletAddress": WALLET})
            assert resp.status_code == 201, resp.text
            vm_id = resp.json()["deployment"]["vmId"]
            status = None
            for _ in range(200):
                status = (await http.get(f"/vms/{vm_id}")).json()["status"]
                if status == "active":
                    break
            assert status == "active"
            resp = await http.post(
                f"/vms/{vm_id}/docker/url",
                json={"dockerfile_url": dockerfile_url},
            )
            assert resp.status_code == 202, resp.text
            assert resp.json()["state"] == "queued"
            assert resp.json()["sourceUrl"] == dockerfile_url
            deployment = await wait_state(http, vm_id, {"X-Wallet-Address": WALLET}, "failed")
        messages = [e["message"] for e in deployment["events"]]
        assert f"fetched Dockerfile ({len(DOCKERFILE)} bytes)" in messages
        assert [e["state"] for e in deployment["events"]][-1] == "failed"
        assert deployment["state"] == "failed"
        # the build fails offline; without a Docker engine here, the runtime says so first
        assert re.match(
            r"(deployment \w+: docker build failed|Docker engine not reachable)",
            deployment["reason"],
        ), deployment["reason"]
        assert deployment["endpoint"] is None  # nothing was started
    finally:
        await cleanup_with_fresh_core(settings)


# The guide's deploy-miner.sh, with: its base URL as $BASE, 2 instances instead of 3,
# a 0.2 s poll instead of 30 s, and the Dockerfile URL as $DOCKERFILE_URL.
GUIDE_SCRIPT = r"""
set -e
WALLET_ADDRESS="0.0.123456"
INSTANCE_COUNT=2
for i in $(seq 1 $INSTANCE_COUNT); do
    echo "Deploying miner instance $i..."
    VM_ID=$(curl -s -X POST $BASE/deploy \
        -H "Content-Type: application/json" \
        -d "{\"walletAddress\": \"$WALLET_ADDRESS\"}" | \
        $JQ '.deployment.vmId')
    echo "VM $VM_ID deployed, waiting for ready state..."
    while true; do
        STATUS=$(curl -s $BASE/vms/$VM_ID | $JQ '.status')
        if [ "$STATUS" = "active" ]; then
            break
        fi
        sleep 0.2
    done
    curl -X POST $BASE/vms/$VM_ID/docker/url \
        -H "Content-Type: application/json" \
        -d "{\"dockerfile_url\": \"$DOCKERFILE_URL\"}"
    echo
    echo "Miner instance $i deployed successfully!"
done
"""

PY_JQ = "python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])'"


async def test_guide_script_with_curl(
    settings: Settings, dockerfile_url: str, tmp_path: Path
) -> None:
    """The guide's bash script with curl (jq if installed, else a one-line stand-in)."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    jq = "jq -r" if shutil.which("jq") else None
    script = GUIDE_SCRIPT
    if jq is None:  # read .deployment.vmId / .status without jq
        script = script.replace("$JQ '.deployment.vmId'", f"{PY_JQ} deployment | {PY_JQ} vmId")
        script = script.replace("$JQ '.status'", f"{PY_JQ} status")
    from tensornode.coordinator.app import build_app

    try:
        async with ThreadedServer(build_app(settings)) as app_server:
            env = {"BASE": app_server.url, "JQ": jq or "", "DOCKERFILE_URL": dockerfile_url,
                   "PATH": "/usr/bin:/bin:/usr/local/bin"}  # fmt: skip
            import asyncio

            proc = await asyncio.to_thread(
                subprocess.run, ["bash", "-c", script], env=env, capture_output=True,
                text=True, timeout=120,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert proc.stdout.count("deployed successfully!") == 2
            assert proc.stdout.count('"runtime":"docker","source":"url"') == 2
            async with httpx.AsyncClient(base_url=app_server.url) as http:
                vms = (await http.get("/vms", params={"walletAddress": WALLET})).json()
        assert vms["count"] == 2
        assert {vm["status"] for vm in vms["data"]} == {"active"}
    finally:
        await cleanup_with_fresh_core(settings)


async def test_guide_flow_in_process(settings: Settings) -> None:
    """The same steps through the in-process app (the fixture the other tests use)."""
    async with running_app(settings) as app:
        from .conftest import client_for, wait_active

        async with client_for(app) as client:
            resp = await client.post("/deploy", json={"walletAddress": WALLET})
            vm_id = resp.json()["deployment"]["vmId"]
            vm = await wait_active(client, vm_id, {"X-Wallet-Address": WALLET})
        assert vm["publicIp"] == "127.0.0.1"
        assert vm["owner"] == WALLET
