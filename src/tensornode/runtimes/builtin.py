"""The ``builtin`` runtime: the reference miner, ``tensornode miner serve``, as a process.

The miner runs detached on the host with its output in ``logs/miner-<deployment>.log``
in the VM's workdir. On this machine (a ``local`` VM) it is this installation's
``tensornode`` with the coordinator's data directory as its own, so the tiny model's
cache is shared by every local miner. On a remote host (SSH) ``build`` installs this
coordinator's package in a venv there and ``start`` runs the miner under a loop that
restarts it (:mod:`tensornode.runtimes.remote_miner`). ``RunningMiner.handle`` is the
pid of the miner (local) or of its supervising loop (remote).
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from tensornode.config import RemoteMinerSettings, Settings
from tensornode.errors import NotFound, RuntimeFailure
from tensornode.providers.base import Host, OutputSink
from tensornode.runtimes.base import DeploymentContext, RunningMiner
from tensornode.runtimes.naming import deployment_slug
from tensornode.runtimes.remote import is_local
from tensornode.runtimes.remote_miner import RemoteMinerInstaller

LOG_TAIL_BYTES_PER_LINE = 1024
"""How many bytes of log ``logs`` reads per line asked for (long lines are rare)."""


def miner_command() -> tuple[str, ...]:
    """This installation's ``tensornode`` command (the interpreter running us)."""
    return (sys.executable, "-m", "tensornode.cli.main")


class BuiltinRuntime:
    """Starts ``tensornode miner serve --host H --port P --model SPEC...`` on the host."""

    name = "builtin"

    def __init__(
        self,
        data_dir: Path,
        *,
        command: Sequence[str] | None = None,
        remote: RemoteMinerSettings | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.command = tuple(command) if command is not None else miner_command()
        self.remote = RemoteMinerInstaller(data_dir / "wheels", remote or RemoteMinerSettings())

    @classmethod
    def from_settings(cls, settings: Settings) -> BuiltinRuntime:
        return cls(settings.data_dir, remote=settings.remote_miner)

    async def build(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> None:
        """Check the spec (a bad one fails before anything starts); on a remote host,
        install tensornode there."""
        self._argv(host, ctx)
        if is_local(host):
            await log("builtin runtime: nothing to build")
            return
        await self.remote.install(host, ctx.spec.models, log)

    async def start(self, host: Host, ctx: DeploymentContext, log: OutputSink) -> RunningMiner:
        argv = self._argv(host, ctx)
        log_path = f"logs/miner-{deployment_slug(ctx.deployment_id)}.log"
        if is_local(host):
            env = {"TENSORNODE_DATA_DIR": str(self.data_dir), **ctx.spec.env}
        else:
            argv = self.remote.supervised(argv[len(self.command) :])
            env = {**self.remote.settings.env, **ctx.spec.env}
        await log(f"starting: {shlex.join(argv)}")
        pid = await host.spawn(argv, env=env, log_path=log_path)
        await log(f"miner started, pid {pid}, log {log_path}")
        return RunningMiner(
            runtime=self.name,
            handle=str(pid),
            endpoint=f"http://{host.address}:{ctx.public_port}",
            log_path=log_path,
        )

    async def stop(self, host: Host, running: RunningMiner) -> None:
        await host.kill(_pid(running))

    async def is_running(self, host: Host, running: RunningMiner) -> bool:
        return await host.is_alive(_pid(running))

    async def logs(self, host: Host, running: RunningMiner, *, tail_lines: int = 200) -> str:
        """The last ``tail_lines`` lines the miner wrote ("" before it wrote any)."""
        if running.log_path is None:
            raise RuntimeFailure(f"miner {running.handle}: no log path recorded")
        try:
            data = await host.read_file(
                running.log_path, tail_bytes=tail_lines * LOG_TAIL_BYTES_PER_LINE
            )
        except NotFound:
            return ""
        lines = data.decode("utf-8", errors="replace").splitlines()
        return "\n".join(lines[-tail_lines:])

    def _argv(self, host: Host, ctx: DeploymentContext) -> list[str]:
        spec = ctx.spec
        if spec.runtime != self.name:
            raise RuntimeFailure(f"deployment {ctx.deployment_id}: not a builtin miner spec")
        if not spec.models:
            raise RuntimeFailure(f"deployment {ctx.deployment_id}: no model to serve")
        models: list[str] = []
        for model in spec.models:
            if not model.strip() or model.startswith("-") or any(c.isspace() for c in model):
                raise RuntimeFailure(f"deployment {ctx.deployment_id}: bad model spec {model!r}")
            models += ["--model", model]
        # a miner on a loopback host stays on loopback; elsewhere it must be reachable
        bind = "127.0.0.1" if ipaddress.ip_address(host.address).is_loopback else "0.0.0.0"
        port = str(ctx.public_port)
        return [*self.command, "miner", "serve", "--host", bind, "--port", port, *models]


def _pid(running: RunningMiner) -> int:
    try:
        return int(running.handle)
    except ValueError:
        raise RuntimeFailure(f"builtin miner handle is not a pid: {running.handle!r}") from None
