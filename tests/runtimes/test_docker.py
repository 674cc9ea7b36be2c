"""The docker runtime against a real engine: build, run, serve, logs, stop the right one.

The Dockerfiles carry their miner inline (``RUN echo <base64> | base64 -d``): the build
context holds only the Dockerfile, and the tests never reach a registry. The guide-shaped
one keeps the template's ``RUN pip install flask requests``: the locally built base image
(tests/setup-services.sh) ships both from Debian, so pip finds them installed and needs no
network.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tensornode.errors import RuntimeFailure
from tensornode.providers.base import PortSpec, VMSpec
from tensornode.providers.local import LocalProvider
from tensornode.providers.local_host import LocalHost
from tensornode.runtimes.base import DeploymentContext, MinerSpec, RunningMiner
from tensornode.runtimes.docker import DockerRuntime

from .conftest import MINERS, LogSink, deployment_id, docker, wait_healthy

pytestmark = pytest.mark.docker


def inline(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


STDLIB_DOCKERFILE = f"""\
# a miner with nothing but the standard library
FROM python:3.11-slim
WORKDIR /app
RUN echo {inline(MINERS / "stdlib_miner.py")} | base64 -d > /app/miner.py
EXPOSE 3000
CMD ["python3", "/app/miner.py"]
""".encode()

GUIDE_DOCKERFILE = f"""\
# Dockerfile for LLM Miner (the miner guide's template, runnable offline)
FROM python:3.11-slim

# Install dependencies
RUN pip install flask requests

# Copy model files (the build context holds only the Dockerfile: the code comes inline)
COPY Dockerfile /app/Dockerfile
RUN mkdir -p /app/api && echo {inline(MINERS / "guide_flask_miner.py")} \\
    | base64 -d > /app/api/server.py
RUN echo flask > /app/requirements.txt

# Install Python dependencies
WORKDIR /app
RUN pip install -r requirements.txt

# Expose API port
EXPOSE 3000

# Health check (the slim image has no curl)
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \\
  CMD python -c "import urllib.request as r; r.urlopen('http://localhost:3000/health')" \\
    || exit 1

# Start the model server
CMD ["python", "api/server.py"]
""".encode()


async def deploy(
    runtime: DockerRuntime,
    vm_host: tuple[str, LocalHost, int],
    dockerfile: bytes,
    built: list[str],
    public_port: int | None = None,
) -> tuple[RunningMiner, LogSink]:
    vm_id, host, port = vm_host
    dep = deployment_id()
    built.append(dep)
    ctx = DeploymentContext(
        dep, vm_id, MinerSpec(runtime="docker", dockerfile=dockerfile), public_port or port
    )
    log = LogSink()
    await runtime.build(host, ctx, log)
    running = await runtime.start(host, ctx, log)
    return running, log


async def test_a_stdlib_miner_is_built_run_served_and_stopped(
    vm_host: tuple[str, LocalHost, int], built_images: list[str]
) -> None:
    vm_id, host, port = vm_host
    runtime = DockerRuntime()
    running, log = await deploy(runtime, vm_host, STDLIB_DOCKERFILE, built_images)
    dep = built_images[0]

    assert running.handle == f"tn-{dep}"
    assert running.endpoint == f"http://127.0.0.1:{port}"
    assert f"Successfully tagged tensornode/miner-{dep}:latest" in log.text
    assert Path(host.workdir, "build", dep, "Dockerfile").read_bytes() == STDLIB_DOCKERFILE
    health = await wait_healthy(running.endpoint)
    assert health is not None, await runtime.logs(host, running)
    assert health.json()["status"] == "healthy"
    async with httpx.AsyncClient() as client:
        chat = await client.post(f"{running.endpoint}/api/chat", json={"prompt": "ping"})
    assert chat.json()["response"] == "echo: ping"

    inspect = docker(
        "inspect", "--format",
        "{{.HostConfig.RestartPolicy.Name}} {{index .Config.Labels \"tensornode.vm\"}} "
        "{{index .Config.Labels \"tensornode.deployment\"}} {{range .Config.Env}}{{.}} {{end}}",
        running.handle,
    )  # fmt: skip
    assert inspect.stdout.split()[:3] == ["unless-stopped", vm_id, dep]
    assert "PORT=3000" in inspect.stdout.split()
    assert await runtime.is_running(host, running)
    logs = await runtime.logs(host, running)
    assert "listening on 0.0.0.0:3000" in logs
    assert '"POST /api/chat HTTP/1.1" 200' in logs

    await runtime.stop(host, running)
    assert not await runtime.is_running(host, running)
    assert docker("ps", "--all", "--quiet", "--filter", f"name=^tn-{dep}$").stdout == ""
    assert await runtime.logs(host, running) == ""
    await runtime.stop(host, running)  # already gone: no error


async def test_stopping_one_deployment_leaves_the_other_running(
    provider: LocalProvider, vm_host: tuple[str, LocalHost, int], built_images: list[str]
) -> None:
    _, host, _ = vm_host
    runtime = DockerRuntime()
    first, _ = await deploy(runtime, vm_host, STDLIB_DOCKERFILE, built_images)
    other_vm = await provider.create(
        VMSpec("other", "cpu-2-ram-4gb-storage-25gb", (PortSpec(3000),))
    )
    other_host = provider.host(other_vm)
    second, _ = await deploy(
        runtime,
        (other_vm.provider_vm_id, other_host, other_vm.port_map[3000]),
        STDLIB_DOCKERFILE,
        built_images,
    )
    assert await wait_healthy(first.endpoint) is not None
    assert await wait_healthy(second.endpoint) is not None

    await runtime.stop(host, first)
    assert not await runtime.is_running(host, first)
    assert await runtime.is_running(other_host, second)
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{second.endpoint}/health")).status_code == 200
        with pytest.raises(httpx.TransportError):
            await client.get(f"{first.endpoint}/health")

    # stopping the VM removes the containers it holds
    await provider.stop(other_vm.provider_vm_id)
    assert not await runtime.is_running(other_host, second)


async def test_the_miner_guides_dockerfile_template_deploys(
    vm_host: tuple[str, LocalHost, int], built_images: list[str]
) -> None:
    _, host, _ = vm_host
    runtime = DockerRuntime()
    running, log = await deploy(runtime, vm_host, GUIDE_DOCKERFILE, built_images)
    assert "Requirement already satisfied: flask" in log.text
    health = await wait_healthy(running.endpoint)
    assert health is not None, await runtime.logs(host, running)
    assert health.json() == {"status": "healthy", "model_loaded": True, "uptime": "0h 0m 0s"}
    async with httpx.AsyncClient() as client:
        chat = await client.post(
            f"{running.endpoint}/api/chat", json={"prompt": "a b", "max_tokens": 3}
        )
        info = await client.get(f"{running.endpoint}/info")
    assert chat.json()["response"] == "a b a"
    assert info.json()["model_type"] == "llm"
    healthcheck = docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}", running.handle)
    assert "r.urlopen('http://localhost:3000/health')" in healthcheck.stdout
    assert "POST /api/chat" in await runtime.logs(host, running)
    await runtime.stop(host, running)


async def test_a_failing_build_is_a_runtime_failure_with_the_output(
    vm_host: tuple[str, LocalHost, int], built_images: list[str]
) -> None:
    dockerfile = b"FROM python:3.11-slim\nRUN echo about to fail && exit 7\n"
    with pytest.raises(RuntimeFailure) as caught:
        await deploy(DockerRuntime(), vm_host, dockerfile, built_images)
    message = caught.value.message
    assert message.startswith(f"deployment {built_images[0]}: docker build failed with exit code ")
    assert "about to fail" in message
    assert "returned a non-zero code: 7" in message
