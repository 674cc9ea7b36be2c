"""What a runtime needs from a fresh remote host before a miner can run there.

* :func:`ensure_docker`: a Docker engine the login user may use — installed with the
  configured script (Docker's convenience script by default) when the command is
  missing, the user added to the ``docker`` group when the socket refuses it (then the
  host reconnects, so the new group applies);
* :func:`open_port`: the miner's port let through the host's firewall (``ufw``), when one
  is active.

Privileged steps run as root, or with ``sudo -n`` for another user (Fluence images log in
as ``ubuntu``, which may sudo without a password). This machine (the local provider's
host) is left as it is.
"""

from __future__ import annotations

import shlex
from typing import Protocol, runtime_checkable

from tensornode.errors import RuntimeFailure
from tensornode.providers.base import CommandResult, Host, OutputSink
from tensornode.providers.local_host import LocalHost

DOCKER_INSTALL_SCRIPT = "curl -fsSL https://get.docker.com | sh"
"""Docker's documented convenience install (Debian/Ubuntu/CentOS/Fedora...)."""
INSTALL_TIMEOUT_S = 900.0
AS_ROOT = 's=; [ "$(id -u)" = 0 ] || s="sudo -n";'
"""Shell prefix: ``$s`` runs the rest as root (empty for root, ``sudo -n`` otherwise)."""


@runtime_checkable
class Reconnectable(Protocol):
    """A host whose session can be renewed (SSH: a new login picks up new groups)."""

    async def reconnect(self) -> None: ...


def is_local(host: Host) -> bool:
    """True for this machine (a ``local`` VM): it shares the coordinator's installation
    and is never prepared (no installs, no firewall changes)."""
    return isinstance(host, LocalHost)


def _tail(result: CommandResult, lines: int = 5) -> str:
    return "\n".join(result.output.strip().splitlines()[-lines:])


async def _engine(host: Host, docker: str) -> CommandResult:
    return await host.run([docker, "version", "--format", "{{.Server.Version}}"], timeout=60.0)


async def ensure_docker(
    host: Host, log: OutputSink, *, docker: str = "docker", install_script: str | None
) -> None:
    """RuntimeFailure unless a Docker engine answers the login user on ``host`` (after
    installing it, or granting the user the ``docker`` group, where that is needed)."""
    result = await _engine(host, docker)
    if result.exit_code == 0:
        return
    if result.exit_code == 127 and install_script and not is_local(host):
        await log(f"Docker is not installed on {host.address}: installing it")
        script = f"{AS_ROOT} $s sh -c {shlex.quote(install_script)}"
        installed = await host.run(["sh", "-c", script], timeout=INSTALL_TIMEOUT_S, on_output=log)
        if installed.exit_code != 0:
            raise RuntimeFailure(
                f"Docker is not installed on {host.address} and installing it failed (exit "
                f"{installed.exit_code}): {_tail(installed)}. Install Docker on the host "
                "yourself, or use a VM image that has it, then deploy again"
            )
        result = await _engine(host, docker)
    if result.exit_code != 0 and "permission denied" in result.output.lower():
        await log("the login user may not use Docker: adding it to the docker group")
        granted = await host.run(
            ["sh", "-c", f'{AS_ROOT} $s usermod -aG docker "$(id -un)"'], timeout=60.0
        )
        if granted.exit_code == 0 and isinstance(host, Reconnectable):
            await host.reconnect()
            result = await _engine(host, docker)
    if result.exit_code != 0:
        raise RuntimeFailure(f"Docker engine not reachable on this host: {_tail(result, 3)}")


async def open_port(host: Host, port: int, log: OutputSink) -> None:
    """Let ``port``/tcp through ``ufw`` when it is active on a remote host."""
    if is_local(host):
        return
    script = (
        f"{AS_ROOT} command -v ufw >/dev/null 2>&1 || exit 0; "
        f'$s ufw status 2>/dev/null | grep -q "Status: active" || exit 0; '
        f"$s ufw allow {int(port)}/tcp"
    )
    result = await host.run(["sh", "-c", script], timeout=60.0)
    if result.exit_code != 0:
        raise RuntimeFailure(
            f"cannot open port {port} in the host's firewall (ufw): {_tail(result, 3)}"
        )
    if result.output.strip():
        await log(f"firewall: {result.output.strip()}")
