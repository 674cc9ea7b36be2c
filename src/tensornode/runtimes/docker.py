"""The ``docker`` runtime: build a user's Dockerfile and run it as a container.

Every command goes through :meth:`Host.run`, so the same code drives Docker on this
machine or on a remote VM. Names derive from the deployment id (see
:mod:`tensornode.runtimes.naming`): image ``tensornode/miner-<deployment>``, container
``tn-<deployment>``, so ``stop`` removes exactly the container ``start`` made. The build
context is a directory holding only the Dockerfile (``build/<deployment>/`` in the VM's
workdir): ``COPY``/``ADD`` of local files can only name the Dockerfile itself; a miner
fetches its code in ``RUN`` steps (``pip install``, ``git clone``).

On a remote host the engine is installed first if it is missing, and the miner's port
opened in the host's firewall (:mod:`tensornode.runtimes.remote`).

Every container runs confined (:meth:`DockerRuntime.confinement`): memory, CPU and process
limits from ``Settings.docker``, all capabilities dropped, ``no-new-privileges``, a
non-root user, and the miners' own network, which cannot reach the host, private
addresses or the metadata address (:mod:`tensornode.runtimes.isolation`). A ``docker
run`` that fails removes the container it may have left.

Containers are labelled ``tensornode.vm``, ``tensornode.deployment`` and
``tensornode.workdir`` (the host's workdir), by which the ``local`` provider finds and
removes a VM's containers when the VM stops.
"""

from __future__ import annotations

import ipaddress
import re
import shlex

from tensornode.config import DockerSettings, Settings
from tensornode.errors import InvalidInput, RuntimeFailure
from tensornode.providers.base import CommandResult, Host, OutputSink
from tensornode.runtimes.base import DeploymentContext, RunningMiner
from tensornode.runtimes.dockerfile import validate_dockerfile
from tensornode.runtimes.isolation import ensure_network
from tensornode.runtimes.naming import container_name, deployment_slug, image_tag
from tensornode.runtimes.remote import DOCKER_INSTALL_SCRIPT, ensure_docker, open_port

CONTAINER_RUNNING: dict[str, bool] = {
    "created": False,
    "running": True,
    "restarting": False,  # crashed; Docker waits before starting it again
    "paused": False,
    "exited": False,
    "dead": False,
    "removing": False,
}
"""Docker's container states (``.State.Status``) and whether the miner runs."""

COMMAND_TIMEOUT_S = 120.0
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NO_SUCH = re.compile(r"no such (container|object)", re.IGNORECASE)


def _tail(result: CommandResult, lines: int = 8) -> str:
    return "\n".join(result.output.strip().splitlines()[-lines:])


def _publish_address(address: str) -> str:
    """Bind the published port to loopback when the host is reached on loopback (the local
    provider), so a laptop's miner is not exposed to its LAN; everywhere else, all
    interfaces (a VM's public IP is usually not an address on the VM itself)."""
    try:
        loopback = ipaddress.ip_address(address).is_loopback
    except ValueError:
        loopback = address == "localhost"
    return "127.0.0.1:" if loopback else ""


class DockerRuntime:
    """Builds and runs a miner's Dockerfile with the host's ``docker`` command."""

    name = "docker"

    def __init__(
        self,
        *,
        build_timeout: float = 1800.0,
        docker: str = "docker",
        install_script: str | None = DOCKER_INSTALL_SCRIPT,
        limits: DockerSettings | None = None,
    ) -> None:
        self.build_timeout = build_timeout
        self.docker = docker
        self.install_script = install_script
        self.limits = limits or DockerSettings()

    @classmethod
    def from_settings(cls, settings: Settings) -> DockerRuntime:
        return cls(
            install_script=settings.ssh.docker_install_script or None, limits=settings.docker
        )

    def confinement(self) -> list[str]:
        """The ``docker run`` options every miner container gets (limits, no privileges,
        a non-root user, the miners' network)."""
        limits = self.limits
        return [
            "--memory", limits.memory, "--memory-swap", limits.memory,
            "--cpus", f"{limits.cpus:g}", "--pids-limit", str(limits.pids_limit),
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--user", limits.user, "--env", "HOME=/tmp",
            "--network", limits.network,
        ]  # fmt: skip

    async def build(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> None:
        """Check the Dockerfile and the engine, then ``docker build`` (output to ``log``)."""
        dockerfile = self._dockerfile(ctx)
        await ensure_docker(host, log, docker=self.docker, install_script=self.install_script)
        context = f"build/{deployment_slug(ctx.deployment_id)}"
        await host.write_file(f"{context}/Dockerfile", dockerfile)
        argv = [
            self.docker, "build", "--force-rm", "--tag", image_tag(ctx.deployment_id),
            "--label", f"tensornode.deployment={ctx.deployment_id}", context,
        ]  # fmt: skip
        await log(f"$ {shlex.join(argv)}")
        result = await host.run(argv, timeout=self.build_timeout, on_output=log)
        if result.exit_code != 0:
            raise RuntimeFailure(
                f"deployment {ctx.deployment_id}: docker build failed with exit code "
                f"{result.exit_code} (fix the Dockerfile and deploy again):\n{_tail(result)}"
            )

    async def start(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> RunningMiner:
        """Replace any container of this deployment by a new detached one."""
        await self.check_engine(host)
        name = container_name(ctx.deployment_id)
        await self._remove(host, name)  # a retried start must not collide with its first try
        await open_port(host, ctx.public_port, log)
        port = ctx.spec.port
        env: list[str] = []
        await ensure_network(host, self.limits, self.docker)
        for key, value in {**ctx.spec.env, "PORT": str(port)}.items():
            if not _ENV_NAME.match(key):
                raise RuntimeFailure(f"deployment {ctx.deployment_id}: bad variable name {key!r}")
            env += ["--env", f"{key}={value}"]
        argv = [
            self.docker, "run", "--detach", "--name", name, "--restart", "unless-stopped",
            "--publish", f"{_publish_address(host.address)}{ctx.public_port}:{port}", *env,
            *self.confinement(),
            "--label", f"tensornode.vm={ctx.vm_id}",
            "--label", f"tensornode.deployment={ctx.deployment_id}",
            "--label", f"tensornode.workdir={host.workdir}",
            image_tag(ctx.deployment_id),
        ]  # fmt: skip
        await log(f"$ {shlex.join(argv)}")
        result = await host.run(argv, timeout=COMMAND_TIMEOUT_S, on_output=log)
        if result.exit_code != 0:
            await self._remove(host, name)  # a run that failed may have created it
            raise RuntimeFailure(
                f"deployment {ctx.deployment_id}: docker run failed with exit code "
                f"{result.exit_code}:\n{_tail(result)}"
            )
        return RunningMiner(
            runtime=self.name, handle=name, endpoint=f"http://{host.address}:{ctx.public_port}"
        )

    async def stop(self, host: Host, running: RunningMiner) -> None:
        """``docker rm -f`` the deployment's container; no error if it is gone."""
        await self._remove(host, running.handle)

    async def is_running(self, host: Host, running: RunningMiner) -> bool:
        result = await host.run(
            [self.docker, "inspect", "--type", "container", "--format", "{{.State.Status}}",
             running.handle],
            timeout=COMMAND_TIMEOUT_S,
        )  # fmt: skip
        if result.exit_code != 0:
            if _NO_SUCH.search(result.output):
                return False
            raise RuntimeFailure(f"cannot inspect container {running.handle}: {_tail(result)}")
        state = result.output.strip()
        if state not in CONTAINER_RUNNING:
            raise RuntimeFailure(f"container {running.handle}: unknown Docker state {state!r}")
        return CONTAINER_RUNNING[state]

    async def logs(self, host: Host, running: RunningMiner, *, tail_lines: int = 200) -> str:
        """The container's last ``tail_lines`` lines of output ("" if it is gone)."""
        result = await host.run(
            [self.docker, "logs", "--tail", str(tail_lines), running.handle],
            timeout=COMMAND_TIMEOUT_S,
        )
        if result.exit_code != 0:
            if _NO_SUCH.search(result.output):
                return ""
            raise RuntimeFailure(f"cannot read logs of {running.handle}: {_tail(result)}")
        return result.output

    async def check_engine(self, host: Host) -> None:
        """RuntimeFailure unless a Docker engine answers on the host."""
        result = await host.run(
            [self.docker, "version", "--format", "{{.Server.Version}}"], timeout=60.0
        )
        if result.exit_code != 0:
            raise RuntimeFailure(f"Docker engine not reachable on this host: {_tail(result, 3)}")

    def _dockerfile(self, ctx: DeploymentContext) -> bytes:
        if ctx.spec.runtime != self.name or ctx.spec.dockerfile is None:
            raise RuntimeFailure(f"deployment {ctx.deployment_id}: no Dockerfile to build")
        try:
            validate_dockerfile(ctx.spec.dockerfile)
        except InvalidInput as exc:
            raise RuntimeFailure(f"deployment {ctx.deployment_id}: {exc.message}") from None
        return ctx.spec.dockerfile

    async def _remove(self, host: Host, name: str) -> None:
        result = await host.run([self.docker, "rm", "--force", name], timeout=COMMAND_TIMEOUT_S)
        if result.exit_code != 0 and not _NO_SUCH.search(result.output):
            raise RuntimeFailure(f"cannot remove container {name}: {_tail(result)}")
