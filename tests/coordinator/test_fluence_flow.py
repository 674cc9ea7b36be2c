"""The miner guide's advanced configuration, end to end on the remote path: the fake
Fluence API rents the VM, the coordinator reaches it over real SSH (the tests' sshd on
loopback), builds and runs the Dockerfile with this machine's real Docker engine behind
that sshd, waits for a healthy miner that the monitor then watches and the gateway
routes to; a VM Fluence terminates leaves routing. Every failure (no offer, SSH refused,
build error, unhealthy container) ends the deployment with what to do.
"""

from __future__ import annotations

import logging
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from factories import database_url, make_settings
from fakes.fluence import FakeFluence
from loopback import serving_bytes
from sshd import SSHServer
from tensornode.config import Settings
from tensornode.coordinator.app import build_app
from tensornode.providers.fluence import FluenceClient, FluenceProvider
from tensornode.providers.ssh_host import SSHConnector
from tensornode.runtimes.naming import container_name, image_tag

from .conftest import client_for, terminate_everything, wait_active, wait_state
from .test_docker_flow import STDLIB_DOCKERFILE

pytestmark = pytest.mark.docker

WALLET = "0.0.777001"
HEADERS = {"X-Wallet-Address": WALLET}
API_KEY = "fl-flow-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def guide_body(miner_port: int, cap: str = "3.0") -> dict[str, Any]:
    """The guide's "Option 2: Advanced Configuration", with a free port for 3000 (port
    3000 of this machine may be taken: the VM is this machine)."""
    return {
        "walletAddress": WALLET,
        "constraints": {
            "basicConfiguration": "cpu-8-ram-16gb-storage-50gb",
            "maxTotalPricePerEpochUsd": cap,
        },
        "vmConfiguration": {
            "name": "high-performance-llm",
            "openPorts": [
                {"port": 22, "protocol": "tcp"},
                {"port": miner_port, "protocol": "tcp"},
                {"port": 8080, "protocol": "tcp"},
            ],
        },
    }


def fluence_settings(tmp_path: Path, db_url: str, sshd: SSHServer, *, ssh_port: int) -> Settings:
    base = make_settings(tmp_path / "data", db_url)
    return base.model_copy(
        update={
            "coordinator": base.coordinator.model_copy(
                update={"provider": "fluence", "health_deadline_s": 20.0}
            ),
            "fluence": base.fluence.model_copy(
                update={
                    "api_key": SecretStr(API_KEY),
                    "backoff_s": 0.0,
                    "ssh_port": ssh_port,
                    "ssh_user": sshd.user,
                    "workdir": str(tmp_path / "remote"),
                }
            ),
            "ssh": base.ssh.model_copy(update={"key_path": sshd.client_key}),
        }
    )


@asynccontextmanager
async def fluence_app(
    settings: Settings, fake: FakeFluence
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    client = FluenceClient.from_settings(settings.fluence, transport=fake.transport())
    provider = FluenceProvider(client, SSHConnector.from_settings(settings), settings.fluence)
    app = build_app(settings, providers={"fluence": provider})
    async with app.router.lifespan_context(app), client_for(app) as http:
        try:
            yield app, http
        finally:
            await terminate_everything(app.state.coordinator)


@pytest.fixture
def fake() -> FakeFluence:
    return FakeFluence(api_key=API_KEY)


@pytest.fixture
def dockerfile_url() -> Iterator[str]:
    with serving_bytes(STDLIB_DOCKERFILE) as url:
        yield url


def remove_artifacts(deployment_id: str) -> None:
    """The deployment's container and image: the "VM" was this machine's engine."""
    for argv in (
        ["docker", "rm", "-f", container_name(deployment_id)],
        ["docker", "rmi", "-f", image_tag(deployment_id)],
    ):
        subprocess.run(argv, capture_output=True, timeout=60, check=False)


async def test_guide_advanced_configuration_to_a_watched_miner_then_terminated(
    docker_engine: None,
    sshd: SSHServer,
    tmp_path: Path,
    fake: FakeFluence,
    dockerfile_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    fake.plan_next("New", "Launching", "Launching", "Active")
    with database_url("sqlite", tmp_path) as url:
        settings = fluence_settings(tmp_path, url, sshd, ssh_port=sshd.port)
        async with fluence_app(settings, fake) as (app, http):
            resp = await http.post("/deploy", json=guide_body(port))
            assert resp.status_code == 201, resp.text
            vm_id = resp.json()["deployment"]["vmId"]
            vm = await wait_active(http, vm_id, HEADERS)
            assert (vm["provider"], vm["publicIp"]) == ("fluence", "127.0.0.1")
            assert vm["pricePerEpochUsd"] == "2.80"
            sent = next(b for m, p, b in fake.requests if (m, p) == ("POST", "/vms/v3"))
            assert sent["vmConfiguration"]["name"] == "high-performance-llm"
            assert {p["port"] for p in sent["vmConfiguration"]["openPorts"]} == {22, port, 8080}
            renamed = await http.patch(
                f"/vms/{vm_id}",
                json={"name": "llm-1", "openPorts": [{"port": port}, {"port": 9000}]},
                headers=HEADERS,
            )
            assert renamed.status_code == 200, renamed.text
            (rented,) = fake.vms.values()
            assert rented.name == "llm-1"
            assert sorted(p["port"] for p in rented.ports) == sorted([22, port, 9000])

            resp = await http.post(
                f"/vms/{vm_id}/docker/url",
                json={"dockerfile_url": dockerfile_url, "port": port},
                headers=HEADERS,
            )
            assert resp.status_code == 202, resp.text
            try:
                dep = await wait_state(http, vm_id, HEADERS, "healthy")
                assert dep["endpoint"] == f"http://127.0.0.1:{port}"
                log = (await http.get(f"/vms/{vm_id}/logs", headers=HEADERS)).text
                assert "docker build" in log

                report = await app.state.monitor.run_once()
                assert report.checked == 1, report
                miner_id = (await http.get(f"/vms/{vm_id}", headers=HEADERS)).json()["minerId"]
                miner = (await http.get(f"/miners/{miner_id}")).json()
                assert miner["status"] == "active" and miner["lastProbeAt"] is not None, miner
                await check_exec(http, vm_id, container_name(dep["id"]))

                gateway = app.state.gateway
                await gateway.pool.refresh()
                assert miner_id in gateway.pool.candidates

                fake.set_status(fake_vm_id(fake), "Terminated")
                await app.state.monitor.run_once()
                vm = (await http.get(f"/vms/{vm_id}", headers=HEADERS)).json()
                assert vm["status"] == "terminated"
                assert vm["statusReason"] == "Fluence terminated the VM"
                miner = (await http.get(f"/miners/{miner_id}")).json()
                assert miner["status"] == "stopped"
                await gateway.pool.refresh()
                assert miner_id not in gateway.pool.candidates
                assert_no_secrets(settings, API_KEY, caplog.text)
            finally:
                remove_artifacts((await latest(http, vm_id))["id"])


async def check_exec(http: httpx.AsyncClient, vm_id: str, container: str) -> None:
    """Owner-only commands over SSH: output, real exit codes, limits, the audit log."""
    ran = await http.post(
        f"/vms/{vm_id}/exec",
        json={"command": "docker ps --format '{{.Names}}'; echo oops >&2; exit 3"},
        headers=HEADERS,
    )
    assert ran.status_code == 200, ran.text
    assert ran.json()["exitCode"] == 3
    assert container in ran.json()["output"].split() and "oops" in ran.json()["output"]
    argv = await http.post(f"/vms/{vm_id}/exec", json={"command": ["true"]}, headers=HEADERS)
    assert argv.json()["exitCode"] == 0
    slow = await http.post(
        f"/vms/{vm_id}/exec", json={"command": "sleep 5", "timeout": 1}, headers=HEADERS
    )
    assert slow.status_code == 502 and "timed out after 1 s" in slow.json()["error"]
    stranger = {"X-Wallet-Address": "0.0.777002"}
    other = await http.post(f"/vms/{vm_id}/exec", json={"command": "id"}, headers=stranger)
    assert other.status_code == 404
    too_long = await http.post(
        f"/vms/{vm_id}/exec", json={"command": "true", "timeout": 10_000}, headers=HEADERS
    )
    assert too_long.status_code == 400
    audit = (await http.get(f"/vms/{vm_id}/exec", headers=HEADERS)).json()
    assert [(c["exitCode"], c["outcome"]) for c in audit["data"]] == [
        (None, "timed_out"),
        (0, "exited"),
        (3, "exited"),
    ]
    assert audit["data"][1]["command"] == "true" and audit["data"][2]["account"] == WALLET
    assert "output" not in audit["data"][0]


def assert_no_secrets(settings: Settings, api_key: str, logged: str) -> None:
    """Neither the Fluence API key nor the coordinator's private key is in the database,
    the files the coordinator wrote (deployment logs, ...) or its log records; the
    private key file is 0600."""
    key_file = settings.ssh.key_path
    assert key_file is not None and key_file.stat().st_mode & 0o077 == 0
    private = key_file.read_text().splitlines()[1]  # a line of the key's base64 body
    assert settings.database_url is not None
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    written = [p for p in settings.data_dir.rglob("*") if p.is_file()] + [database]
    assert any(p.parent.name == "deployments" for p in written)
    for secret in (api_key, private):
        assert secret not in logged
        for path in written:
            assert secret.encode() not in path.read_bytes(), path


def fake_vm_id(fake: FakeFluence) -> str:
    (only,) = fake.vms
    return only


async def latest(http: httpx.AsyncClient, vm_id: str) -> dict[str, Any]:
    resp = await http.get(f"/vms/{vm_id}/deployments", headers=HEADERS)
    data: dict[str, Any] = resp.json()["data"][0]
    return data


async def test_no_suitable_offer_is_a_422_that_says_what_to_change(
    sshd: SSHServer, tmp_path: Path, fake: FakeFluence
) -> None:
    with database_url("sqlite", tmp_path) as url:
        settings = fluence_settings(tmp_path, url, sshd, ssh_port=sshd.port)
        async with fluence_app(settings, fake) as (_, http):
            over_cap = await http.post("/deploy", json=guide_body(3000, cap="2.0"))
            # the offer was there when priced, and is gone when Fluence is asked
            del fake.prices["cpu-8-ram-16gb-storage-50gb"]
            gone = await http.post("/deploy", json=guide_body(3000))
    assert over_cap.status_code == 422, over_cap.text
    assert over_cap.json()["error"] == (
        "No suitable offer found: cpu-8-ram-16gb-storage-50gb costs 2.80 USD per epoch, above "
        "maxTotalPricePerEpochUsd 2.0: raise the cap or pick a cheaper basicConfiguration"
    )
    assert gone.status_code == 422, gone.text
    assert gone.json()["error"] == (
        "Fluence: No suitable offer found: raise maxTotalPricePerEpochUsd, pick another "
        "basicConfiguration or datacenter, or try again later"
    )
    assert fake.vms == {}


async def test_configurations_and_estimates_come_from_fluence(
    sshd: SSHServer, tmp_path: Path, fake: FakeFluence
) -> None:
    with database_url("sqlite", tmp_path) as url:
        settings = fluence_settings(tmp_path, url, sshd, ssh_port=sshd.port)
        async with fluence_app(settings, fake) as (_, http):
            configs = (await http.get("/configurations")).json()["data"]
            quote = await http.post(
                "/estimate",
                json={
                    "constraints": {"basicConfiguration": "cpu-4-ram-8gb-storage-25gb"},
                    "instances": 2,
                },
            )
    assert [(c["slug"], c["pricePerEpochUsd"]) for c in configs] == [
        ("cpu-2-ram-4gb-storage-25gb", "0.75"),
        ("cpu-4-ram-8gb-storage-25gb", "1.50"),
        ("cpu-8-ram-16gb-storage-50gb", "2.80"),
    ]
    assert quote.status_code == 200, quote.text
    body = quote.json()
    assert (body["totalPricePerEpoch"], body["depositEpochs"], body["depositAmountUsdc"]) == (
        "3.00",
        3,
        "9.00",
    )


async def deploy_and_fail(
    http: httpx.AsyncClient, fake: FakeFluence, dockerfile_url: str, port: int
) -> str:
    resp = await http.post("/deploy", json=guide_body(port))
    assert resp.status_code == 201, resp.text
    vm_id: str = resp.json()["deployment"]["vmId"]
    await wait_active(http, vm_id, HEADERS)
    resp = await http.post(
        f"/vms/{vm_id}/docker/url",
        json={"dockerfile_url": dockerfile_url, "port": port},
        headers=HEADERS,
    )
    assert resp.status_code == 202, resp.text
    dep = await wait_state(http, vm_id, HEADERS, "failed")
    reason: str = dep["reason"] or ""
    return reason


async def test_ssh_refused_ends_the_deployment_saying_what_to_check(
    sshd: SSHServer, tmp_path: Path, fake: FakeFluence, dockerfile_url: str
) -> None:
    with database_url("sqlite", tmp_path) as url:
        settings = fluence_settings(tmp_path, url, sshd, ssh_port=free_port())  # nothing there
        async with fluence_app(settings, fake) as (_, http):
            reason = await deploy_and_fail(http, fake, dockerfile_url, free_port())
    assert "cannot reach" in reason and "over SSH" in reason
    assert "check that the host is up, that sshd listens" in reason


BROKEN_BUILD = b"FROM python:3.11-slim\nRUN echo 'pip: no matching distribution' && exit 3\n"
NEVER_HEALTHY = b'FROM python:3.11-slim\nCMD ["sleep", "600"]\n'


@pytest.mark.parametrize(
    ("dockerfile", "expected"),
    [
        (BROKEN_BUILD, "docker build failed with exit code"),
        (NEVER_HEALTHY, "did not answer /health with 200 within"),
    ],
    ids=["build-error", "unhealthy-container"],
)
async def test_build_errors_and_unhealthy_containers_fail_the_deployment(
    docker_engine: None,
    sshd: SSHServer,
    tmp_path: Path,
    fake: FakeFluence,
    dockerfile: bytes,
    expected: str,
) -> None:
    with database_url("sqlite", tmp_path) as url, serving_bytes(dockerfile) as dockerfile_url:
        settings = fluence_settings(tmp_path, url, sshd, ssh_port=sshd.port)
        settings.coordinator.health_deadline_s = 4.0
        async with fluence_app(settings, fake) as (_, http):
            port = free_port()
            reason = await deploy_and_fail(http, fake, dockerfile_url, port)
            (vm,) = (await http.get("/vms", headers=HEADERS)).json()["data"]
            dep = await latest(http, vm["id"])
            names = subprocess.run(
                ["docker", "ps", "-aq", "--filter", f"name={container_name(dep['id'])}"],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            remove_artifacts(dep["id"])
    assert expected in reason, reason
    if dockerfile is BROKEN_BUILD:
        assert "no matching distribution" in reason
    else:  # the failed miner was stopped: its container is gone
        assert "the started miner was stopped" in dep["events"][-1]["message"]
        assert names.stdout.strip() == ""
