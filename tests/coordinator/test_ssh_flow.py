"""A server the user already has (the ``ssh`` provider), through the coordinator's API:
``POST /deploy`` with a builtin miner rents the host, installs this coordinator's package
there over the real sshd on loopback, and serves a healthy miner the monitor watches;
``DELETE /vms/{id}`` stops it and frees the host for the next deploy."""

from __future__ import annotations

import socket
import sysconfig
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from factories import database_url, make_settings
from sshd import SSHServer
from tensornode.config import RemoteMinerSettings, Settings, SSHHostSettings, SSHProviderSettings

from .conftest import ECHO, client_for, running_app, wait_state

WALLET = "0.0.777101"
HEADERS = {"X-Wallet-Address": WALLET}
SYSTEM_PYTHON = Path("/usr/bin/python3")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ssh_settings(tmp_path: Path, db_url: str, sshd: SSHServer) -> Settings:
    base = make_settings(tmp_path / "data", db_url)
    box = SSHHostSettings(
        name="my-gpu-box",
        host="127.0.0.1",
        port=sshd.port,
        user=sshd.user,
        key_path=sshd.client_key,
        configuration="gpu-1x-l4",
        price_per_epoch_usd=Decimal("0"),
        workdir=str(tmp_path / "remote"),
    )
    # the host has no network: see tests/runtimes/test_builtin_remote.py
    offline = RemoteMinerSettings(
        python=str(SYSTEM_PYTHON),
        venv_args=["--without-pip", "--system-site-packages"],
        pip_args=["--no-deps", "--no-index"],
        env={"PYTHONPATH": sysconfig.get_paths()["purelib"]},
    )
    return base.model_copy(
        update={
            "coordinator": base.coordinator.model_copy(update={"provider": "ssh"}),
            "ssh_provider": SSHProviderSettings(hosts=[box]),
            "remote_miner": offline,
        }
    )


async def test_builtin_miner_on_your_own_server_through_the_api(
    sshd: SSHServer, tmp_path: Path
) -> None:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("no /usr/bin/python3 on this machine to act as the host's python")
    port = free_port()
    body = {
        "walletAddress": WALLET,
        "constraints": {"basicConfiguration": "gpu-1x-l4"},
        "vmConfiguration": {"name": "own-box", "openPorts": [{"port": port}]},
        "miner": {"runtime": "builtin", "models": [ECHO], "port": port},
    }
    with database_url("sqlite", tmp_path) as url:
        settings = ssh_settings(tmp_path, url, sshd)
        async with running_app(settings) as app, client_for(app) as http:
            configs = (await http.get("/configurations")).json()["data"]
            assert [c["slug"] for c in configs] == ["gpu-1x-l4"]
            resp = await http.post("/deploy", json=body)
            assert resp.status_code == 201, resp.text
            vm_id = resp.json()["deployment"]["vmId"]
            dep = await wait_state(http, vm_id, HEADERS, "healthy")
            assert dep["endpoint"] == f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=10) as miner:
                info = (await miner.get(f"{dep['endpoint']}/info")).json()
            assert info["model_type"] == "llm"
            report = await app.state.monitor.run_once()
            assert report.checked == 1

            busy = await http.post("/deploy", json={**body, "miner": None})
            assert busy.status_code == 422 and "no free SSH host" in busy.json()["error"]

            deleted = await http.delete(f"/vms/{vm_id}", headers=HEADERS)
            assert deleted.status_code == 200, deleted.text
            async with httpx.AsyncClient(timeout=2) as miner:
                with pytest.raises(httpx.HTTPError):
                    await miner.get(f"{dep['endpoint']}/health")
            assert list((tmp_path / "remote").iterdir()) == []  # its workdir is removed
            again = await http.post("/deploy", json={**body, "miner": None})
            assert again.status_code == 201, again.text
