"""Names runtimes derive from a deployment id: file names, image tags, container names."""

from __future__ import annotations

import hashlib
import re

from tensornode.errors import RuntimeFailure

_UNSAFE = re.compile(r"[^a-z0-9_.-]+")


def deployment_slug(deployment_id: str) -> str:
    """``deployment_id`` as a Docker-tag- and file-name-safe word, unique per id.

    An id that is already safe is kept as it is; any other gets a short hash of the
    original appended, so two ids never share a slug (nor a container).
    """
    slug = _UNSAFE.sub("-", deployment_id.lower()).strip("-._")[:64]
    if slug != deployment_id:
        digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:8]
        slug = f"{slug}-{digest}" if slug else digest
    if not slug:
        raise RuntimeFailure("empty deployment id")
    return slug


def container_name(deployment_id: str) -> str:
    """The Docker container of a deployment: ``tn-<deployment>``."""
    return f"tn-{deployment_slug(deployment_id)}"


def image_tag(deployment_id: str) -> str:
    """The Docker image of a deployment: ``tensornode/miner-<deployment>``."""
    return f"tensornode/miner-{deployment_slug(deployment_id)}"
