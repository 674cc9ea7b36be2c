"""The miners' Docker network and the host firewall rules that confine it.

Every miner container runs on one bridge network (``docker.network``, Linux bridge
``docker.bridge``) with inter-container traffic off. Two sets of iptables rules keep it
from what it must not reach, while its published port and the public internet (models,
packages) keep working:

- ``INPUT``: no new connection from the bridge to the host itself (any of its addresses:
  the coordinator, its database, the Docker API, ``sshd``);
- ``DOCKER-USER`` (Docker's chain for operators' rules on forwarded traffic): no new
  connection from the bridge to private, shared, loopback or link-local ranges, the cloud
  metadata address ``169.254.169.254`` among them. Replies of published-port connections
  are ``ESTABLISHED`` and pass.

Each rule is checked (``iptables -C``) before it is inserted, so ``ensure`` is idempotent
and cheap enough to run before every ``docker run`` (one shell, as root: ``sudo -n`` for
a login user that is not).
"""

from __future__ import annotations

import re
import shlex

from tensornode.config import DockerSettings
from tensornode.errors import RuntimeFailure
from tensornode.providers.base import CommandResult, Host
from tensornode.runtimes.remote import AS_ROOT

COMMAND_TIMEOUT_S = 60.0
BLOCKED_RANGES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "192.0.0.0/24",
    "198.18.0.0/15",
)
"""Where a miner may not open connections (RFC 1918, CGNAT, link-local/metadata, ...)."""
_EXISTS = re.compile(r"already exists", re.IGNORECASE)


def firewall_rules(bridge: str) -> list[tuple[str, list[str]]]:
    """(chain, rule) pairs; inserted at the top of their chain, first rule last."""
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    rules = [("INPUT", ["-i", bridge, *new, "-j", "DROP"])]
    rules += [("DOCKER-USER", ["-i", bridge, "-d", r, *new, "-j", "DROP"]) for r in BLOCKED_RANGES]
    return rules


def _tail(result: CommandResult) -> str:
    return " ".join(result.output.strip().splitlines()[-2:])


async def ensure_network(host: Host, config: DockerSettings, docker: str = "docker") -> None:
    """Create the miners' network if it is missing and install its firewall rules."""
    inspect = await host.run(
        [docker, "network", "inspect", "--format",
         '{{index .Options "com.docker.network.bridge.name"}}', config.network],
        timeout=COMMAND_TIMEOUT_S,
    )  # fmt: skip
    if inspect.exit_code == 0:
        if inspect.output.strip() != config.bridge:
            raise RuntimeFailure(
                f"Docker network {config.network} exists but is not on bridge {config.bridge}"
                f" (found {inspect.output.strip() or 'the default'}): remove it or rename"
                " docker.network"
            )
    else:
        create = await host.run(
            [docker, "network", "create", "--driver", "bridge", "--subnet", config.subnet,
             "--opt", f"com.docker.network.bridge.name={config.bridge}",
             "--opt", "com.docker.network.bridge.enable_icc=false",
             "--label", "tensornode.network=miners", config.network],
            timeout=COMMAND_TIMEOUT_S,
        )  # fmt: skip
        if create.exit_code != 0 and not _EXISTS.search(create.output):
            raise RuntimeFailure(
                f"cannot create the miners' Docker network {config.network}: {_tail(create)}"
            )
    if config.firewall:
        await install_firewall(host, config.bridge)


async def install_firewall(host: Host, bridge: str) -> None:
    """Insert each missing rule (as root: ``sudo -n`` for another login user);
    RuntimeFailure, and no miner runs, when that is refused."""
    steps = [
        f"$s iptables -C {chain} {shlex.join(rule)} 2>/dev/null"
        f" || $s iptables -I {chain} {shlex.join(rule)}"
        for chain, rule in reversed(firewall_rules(bridge))
    ]
    script = f"{AS_ROOT} set -e; " + "; ".join(steps)
    result = await host.run(["sh", "-c", script], timeout=COMMAND_TIMEOUT_S)
    if result.exit_code != 0:
        raise RuntimeFailure(
            f"cannot confine the miners' network (iptables rules for bridge {bridge}):"
            f" {_tail(result)}; miners are not run unconfined (docker.firewall=false only"
            " where the host's own firewall confines the bridge)"
        )
