"""The docker runtime's checks that need no engine: bad Dockerfiles, no engine at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tensornode.config import Settings
from tensornode.errors import RuntimeFailure
from tensornode.providers.local_host import LocalHost
from tensornode.runtimes.base import DeploymentContext, MinerSpec
from tensornode.runtimes.docker import DockerRuntime
from tensornode.runtimes.naming import container_name, image_tag
from tensornode.runtimes.registry import registry

from .conftest import LogSink

GOOD = b'FROM python:3.11-slim\nCMD ["python3", "-m", "http.server", "3000"]\n'


def ctx(vm_id: str, port: int, dockerfile: bytes | None) -> DeploymentContext:
    return DeploymentContext("d1", vm_id, MinerSpec("docker", dockerfile=dockerfile), port)


async def test_an_invalid_dockerfile_fails_before_building(
    vm_host: tuple[str, LocalHost, int],
) -> None:
    vm_id, host, port = vm_host
    with pytest.raises(RuntimeFailure) as caught:
        await DockerRuntime().build(host, ctx(vm_id, port, b"RUN rm -rf /\n"), LogSink())
    assert caught.value.message == (
        "deployment d1: not a Dockerfile: its first instruction must be FROM, but line 1 is RUN"
    )
    assert not Path(host.workdir, "build").exists()
    with pytest.raises(RuntimeFailure, match="deployment d1: no Dockerfile to build"):
        await DockerRuntime().build(host, ctx(vm_id, port, None), LogSink())


async def test_no_docker_command_is_a_clear_failure(vm_host: tuple[str, LocalHost, int]) -> None:
    vm_id, host, port = vm_host
    runtime = DockerRuntime(docker="tensornode-no-such-docker")
    with pytest.raises(RuntimeFailure) as caught:
        await runtime.build(host, ctx(vm_id, port, GOOD), LogSink())
    assert caught.value.message == (
        "Docker engine not reachable on this host: tensornode-no-such-docker: command not found"
    )
    with pytest.raises(RuntimeFailure, match="Docker engine not reachable on this host"):
        await runtime.start(host, ctx(vm_id, port, GOOD), LogSink())


@pytest.mark.skipif(shutil.which("docker") is None, reason="the docker client is not installed")
async def test_an_unreachable_engine_is_a_clear_failure(
    vm_host: tuple[str, LocalHost, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vm_id, host, port = vm_host
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(RuntimeFailure) as caught:
        await DockerRuntime().build(host, ctx(vm_id, port, GOOD), LogSink())
    assert caught.value.message.startswith("Docker engine not reachable on this host: ")
    assert "no-engine.sock" in caught.value.message


@pytest.mark.parametrize(
    ("deployment", "container", "image"),
    [
        ("42", "tn-42", "tensornode/miner-42"),
        ("3f2a-bc", "tn-3f2a-bc", "tensornode/miner-3f2a-bc"),
        # not a valid Docker name as it is: made safe, and a hash keeps it unique
        ("Dep/One", "tn-dep-one-c12c9cb7", "tensornode/miner-dep-one-c12c9cb7"),
    ],
)
def test_names_derive_from_the_deployment(deployment: str, container: str, image: str) -> None:
    assert container_name(deployment) == container
    assert image_tag(deployment) == image


def test_an_empty_deployment_id_has_no_name() -> None:
    with pytest.raises(RuntimeFailure, match="empty deployment id"):
        container_name("")


def test_the_registry_builds_the_docker_runtime(tmp_path: Path) -> None:
    assert isinstance(registry["docker"](Settings(data_dir=tmp_path)), DockerRuntime)
