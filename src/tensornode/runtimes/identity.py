"""A deployment's identity: the nonce its miner reports in ``/health``.

Each deployment gets a random nonce, handed to its miner as the environment variable
``TENSORNODE_MINER__NONCE`` (the reference miner's ``miner.nonce`` setting). The
reference miner puts it in its ``/health`` answer, so a ``200`` from some other process
that took the port (a leftover, a restart race, a neighbour) is not taken for our miner.

Enforcement: a builtin deployment (the reference miner) must report its nonce. A Docker
deployment runs the operator's own server, which may not know the variable: a nonce it
reports must match, but reporting none is accepted. Registered (external) miners have no
deployment and no nonce.
"""

from __future__ import annotations

import secrets

NONCE_ENV = "TENSORNODE_MINER__NONCE"
IMPOSTOR = "another process answers on this port"


def new_nonce() -> str:
    return secrets.token_hex(16)


def nonce_problem(body: object, nonce: str | None, *, required: bool) -> str | None:
    """Why a healthy ``/health`` body is not this deployment's miner, or None."""
    if nonce is None:
        return None
    reported = body.get("nonce") if isinstance(body, dict) else None
    if reported is None:
        return f"/health reports no deployment nonce: {IMPOSTOR}" if required else None
    if reported != nonce:
        return f"/health reports another deployment's nonce: {IMPOSTOR}"
    return None
