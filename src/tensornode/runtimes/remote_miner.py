"""The builtin miner on a remote host: this coordinator's ``tensornode`` installed in a
venv there, ``tensornode miner serve`` run under a restart loop.

``install`` copies the wheel of the running package (:mod:`tensornode.runtimes.self_wheel`)
over SFTP to ``dist/`` in the VM's workdir, makes ``venv/`` with the host's ``python3``
and ``pip install``s the wheel, with the ``miner`` extra (torch, transformers) only when
a model's backend needs it (``tiny``, ``transformers``). A venv already holding the same
wheel is kept. ``supervised`` wraps the miner's command in a shell loop that restarts it
two seconds after it exits; the loop is the detached process the host tracks, so
stopping it (its process group) stops the miner too. Settings
(``TENSORNODE_REMOTE_MINER__...``) choose the interpreter, venv and pip options (a
package index mirror, say) and variables every remote miner gets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from tensornode.config import RemoteMinerSettings
from tensornode.errors import NotFound, RuntimeFailure
from tensornode.providers.base import CommandResult, Host, OutputSink
from tensornode.runtimes.remote import AS_ROOT
from tensornode.runtimes.self_wheel import build_self_wheel

TORCH_BACKENDS = frozenset({"tiny", "transformers"})
VENV = "venv"
MARKER = f"{VENV}/.tensornode-wheel"
SUPERVISOR = (
    'while :; do "$@"; echo "supervisor: the miner exited with status $?; '
    'restarting in 2 s"; sleep 2; done'
)


def needs_torch(models: Sequence[str]) -> bool:
    """True if a model spec (``TYPE=BACKEND[:TARGET]``) names a torch backend."""
    return any(m.split("=", 1)[-1].split(":", 1)[0] in TORCH_BACKENDS for m in models)


def _tail(result: CommandResult, lines: int = 6) -> str:
    return "\n".join(result.output.strip().splitlines()[-lines:])


class RemoteMinerInstaller:
    """Installs and supervises the reference miner on remote hosts."""

    def __init__(self, wheels: Path, settings: RemoteMinerSettings) -> None:
        self.wheels = wheels
        self.settings = settings

    async def install(self, host: Host, models: Sequence[str], log: OutputSink) -> None:
        """``venv/`` on the host with this coordinator's tensornode; RuntimeFailure saying
        what to install on the host when it cannot be made."""
        wheel = await asyncio.to_thread(build_self_wheel, self.wheels)
        wanted = wheel.name + ("[miner]" if needs_torch(models) else "")
        try:
            installed = (await host.read_file(MARKER)).decode().strip()
        except NotFound:
            installed = ""
        if installed == wanted:
            await log(f"tensornode is installed on the host ({wheel.name})")
            return
        await log(f"copying {wheel.name} to the host")
        await host.write_file(f"dist/{wheel.name}", wheel.read_bytes())
        python = self.settings.python
        venv = [python, "-m", "venv", *self.settings.venv_args, VENV]
        created = await host.run(venv, timeout=600, on_output=log)
        if created.exit_code != 0 and "ensurepip is not available" in created.output:
            # Debian/Ubuntu ship venv apart (python3-venv): install it, as Docker is
            await log("the host's Python lacks venv: installing python3-venv")
            script = f"{AS_ROOT} $s apt-get install -y -q python3-venv"
            apt = await host.run(["sh", "-c", script], timeout=900, on_output=log)
            if apt.exit_code == 0:
                created = await host.run(venv, timeout=600, on_output=log)
        if created.exit_code != 0:
            raise RuntimeFailure(
                f"cannot make a Python venv on the host with {python} (exit "
                f"{created.exit_code}): {_tail(created)}. Install python3 and python3-venv "
                "there (apt-get install python3-venv) and deploy again"
            )
        pip = [f"{VENV}/bin/python", "-m", "pip", "install", "--disable-pip-version-check"]
        target = f"dist/{wheel.name}" + ("[miner]" if needs_torch(models) else "")
        result = await host.run(
            [*pip, *self.settings.pip_args, target], timeout=3600, on_output=log
        )
        if result.exit_code != 0:
            raise RuntimeFailure(
                f"pip could not install tensornode on the host (exit {result.exit_code}): "
                f"{_tail(result)}. Check the host's access to the package index "
                "(TENSORNODE_REMOTE_MINER__PIP_ARGS can name a mirror) and deploy again"
            )
        await host.write_file(MARKER, wanted.encode())
        await log(f"installed {wanted} in {VENV}/")

    def supervised(self, miner_args: Sequence[str]) -> list[str]:
        """``tensornode <miner_args>`` from the venv, restarted whenever it exits."""
        command = [f"{VENV}/bin/python", "-m", "tensornode.cli.main", *miner_args]
        return ["sh", "-c", SUPERVISOR, "tensornode-supervisor", *command]
