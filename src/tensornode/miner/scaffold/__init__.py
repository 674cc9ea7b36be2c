"""``tensornode miner init DIR``: a miner project for a user who brings their own model.

The templates (``templates/``, package data) are a Dockerfile that runs
``tensornode miner serve`` on ``$PORT`` (3000 by default) with a HEALTHCHECK, a README,
and ``my_backend.py``, an example backend implementing
:class:`tensornode.miner.backends.base.Backend`. This is a package rather than a
``scaffold.py`` module because the templates live in its directory.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from tensornode.errors import Conflict, InvalidInput

TEMPLATE_FILES = {
    "Dockerfile": "Dockerfile",
    "README.md": "README.md",
    "my_backend.py": "my_backend.py",
    "requirements.txt": "requirements.txt",
    "dockerignore": ".dockerignore",  # stored without the dot: package data skips dotfiles
}
"""Template name in the package → file name in the project."""

NAME_PLACEHOLDER = "__MINER_NAME__"


def miner_name(directory: Path) -> str:
    """A model name for the project, from the directory's name (``my-llm-miner``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", directory.resolve().name.lower()).strip("-")
    return slug or "my-miner"


def render_template(template: str, name: str) -> str:
    """The text of one template with the project's name filled in."""
    text = (resources.files(__name__) / "templates" / template).read_text("utf-8")
    return text.replace(NAME_PLACEHOLDER, name)


def scaffold_miner(directory: Path, *, force: bool = False) -> list[Path]:
    """Write a miner project into ``directory`` and return the files written.

    ``directory`` is created if missing. A non-empty directory is refused with
    :class:`~tensornode.errors.Conflict` unless ``force``, which replaces the project's
    files and leaves any other file alone.
    """
    if directory.exists() and not directory.is_dir():
        raise InvalidInput(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise Conflict(f"{directory} is not empty; pass --force to write into it anyway")
    directory.mkdir(parents=True, exist_ok=True)
    name = miner_name(directory)
    written = []
    for template, target in TEMPLATE_FILES.items():
        path = directory / target
        path.write_text(render_template(template, name), encoding="utf-8")
        written.append(path)
    return written
