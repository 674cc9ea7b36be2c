"""Miner containers run confined on a real engine: limits, no privileges, a non-root user,
and a network that reaches neither the host nor private or metadata addresses."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator

import pytest

from tensornode.errors import RuntimeFailure
from tensornode.providers.local_host import LocalHost
from tensornode.runtimes.base import DeploymentContext, MinerSpec
from tensornode.runtimes.docker import DockerRuntime
from tensornode.runtimes.isolation import firewall_rules

from .conftest import BASE_IMAGE, LogSink, deployment_id, docker, wait_healthy
from .test_docker import STDLIB_DOCKERFILE, deploy

pytestmark = pytest.mark.docker

PROBE = """\
import json, socket, sys
out = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(1.5)
    try:
        s.connect((host, int(port)))
        out[target] = "open"
    except OSError as exc:
        out[target] = type(exc).__name__
    finally:
        s.close()
print(json.dumps(out))
"""


def _host_address() -> str:
    """This machine's address on its default route (not loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: picks the route's source address
        return str(s.getsockname()[0])


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A TCP service of the host on all interfaces (what the coordinator or sshd would be)."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def _probe(argv_prefix: list[str], targets: list[str]) -> dict[str, str]:
    done = subprocess.run(
        [*argv_prefix, "python3", "-c", PROBE, *targets], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


async def test_a_miner_container_is_confined(
    vm_host: tuple[str, LocalHost, int], built_images: list[str], host_listener: int
) -> None:
    runtime = DockerRuntime()
    running, _ = await deploy(runtime, vm_host, STDLIB_DOCKERFILE, built_images)
    assert await wait_healthy(running.endpoint) is not None  # its published port still serves
    config = json.loads(docker("inspect", running.handle).stdout)[0]
    hostconfig = config["HostConfig"]
    assert hostconfig["Memory"] == 4 * 1024**3 and hostconfig["NanoCpus"] == 2 * 10**9
    assert hostconfig["PidsLimit"] == 512 and hostconfig["CapDrop"] == ["ALL"]
    assert hostconfig["SecurityOpt"] == ["no-new-privileges"]
    assert config["Config"]["User"] == "65534:65534"
    assert list(config["NetworkSettings"]["Networks"]) == ["tensornode-miners"]

    gateway = config["NetworkSettings"]["Networks"]["tensornode-miners"]["Gateway"]
    targets = [
        f"{_host_address()}:{host_listener}",  # the host on its own address
        f"{gateway}:{host_listener}",  # the host on the bridge
        f"{_host_address()}:5432",  # the database's port on the host
        "169.254.169.254:80",  # the cloud metadata address
    ]
    # the same probe from a container on Docker's default network reaches the host
    control = _probe(["docker", "run", "--rm", BASE_IMAGE], targets[:1])
    assert control == {targets[0]: "open"}
    confined = _probe(["docker", "exec", running.handle], targets)
    assert all(outcome != "open" for outcome in confined.values()), confined
    uid = docker("exec", running.handle, "id", "-u").stdout.strip()
    assert uid == "65534"
    for chain, rule in firewall_rules("tn-miners0"):
        assert subprocess.run(["iptables", "-C", chain, *rule]).returncode == 0


async def test_a_failed_docker_run_leaves_no_container(
    vm_host: tuple[str, LocalHost, int], built_images: list[str]
) -> None:
    vm_id, host, _ = vm_host
    runtime = DockerRuntime()
    taken = socket.create_server(("127.0.0.1", 0))  # the port docker is told to publish on
    try:
        dep = deployment_id()
        built_images.append(dep)
        ctx = DeploymentContext(
            dep,
            vm_id,
            MinerSpec(runtime="docker", dockerfile=STDLIB_DOCKERFILE),
            int(taken.getsockname()[1]),
        )
        await runtime.build(host, ctx, LogSink())
        with pytest.raises(RuntimeFailure, match="docker run failed"):
            await runtime.start(host, ctx, LogSink())
    finally:
        taken.close()
    left = docker("ps", "--all", "--quiet", "--filter", f"name=^tn-{dep}$")
    assert left.stdout.strip() == ""
