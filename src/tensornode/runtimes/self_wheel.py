"""A wheel of the running ``tensornode``, to install the same code on a remote host.

The miner on a remote VM must speak exactly the coordinator's protocol, and the package
need not be on PyPI: so the coordinator packs its own installed package (every file
under ``tensornode/`` except bytecode) with its installed metadata (dependencies and
extras, so ``pip install tensornode-...whl[miner]`` pulls torch where wanted) into a
standard wheel (PEP 427: ``WHEEL``, ``METADATA``, ``entry_points.txt``, ``RECORD`` with
sha256 digests). Its version carries a digest of the content
(``0.1.0+g1a2b3c4d5e6f``), so a changed coordinator ships a new wheel and an unchanged
one is built once and reused from ``data_dir/wheels``.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import tensornode
from tensornode.errors import RuntimeFailure
from tensornode.providers.local_host import atomic_write

DIST = "tensornode"
ENTRY_POINTS = "[console_scripts]\ntensornode = tensornode.cli.main:app\n"


def _package_files() -> list[tuple[str, bytes]]:
    root = Path(tensornode.__file__).resolve().parent
    files = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files.append((f"tensornode/{path.relative_to(root).as_posix()}", path.read_bytes()))
    return files


def _metadata(version: str) -> str:
    try:
        installed = importlib.metadata.metadata(DIST)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeFailure(
            "cannot package tensornode for a remote host: it is not installed (pip install -e .)"
        ) from None
    lines = ["Metadata-Version: 2.1", f"Name: {DIST}", f"Version: {version}"]
    if installed["Summary"]:
        lines.append(f"Summary: {installed['Summary']}")
    if installed["Requires-Python"]:
        lines.append(f"Requires-Python: {installed['Requires-Python']}")
    lines += [f"Requires-Dist: {r}" for r in installed.get_all("Requires-Dist") or []]
    lines += [f"Provides-Extra: {e}" for e in installed.get_all("Provides-Extra") or []]
    return "\n".join(lines) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_self_wheel(dest: Path) -> Path:
    """The wheel of the running package in ``dest`` (built now unless already there)."""
    files = _package_files()
    content = hashlib.sha256()
    for name, data in files:
        content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    version = f"{tensornode.__version__}+g{content.hexdigest()[:12]}"
    wheel = dest / f"{DIST}-{version}-py3-none-any.whl"
    if wheel.exists():
        return wheel
    info = f"{DIST}-{version}.dist-info"
    members = [
        *files,
        (f"{info}/METADATA", _metadata(version).encode()),
        (f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: tensornode\nRoot-Is-Purelib: true\n"
         b"Tag: py3-none-any\n"),
        (f"{info}/entry_points.txt", ENTRY_POINTS.encode()),
    ]  # fmt: skip
    record = "\n".join(_record_line(n, d) for n, d in members) + f"\n{info}/RECORD,,\n"
    dest.mkdir(parents=True, exist_ok=True)
    tmp = dest / f".{wheel.name}.tmp"
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", record)
    atomic_write(wheel, tmp.read_bytes())
    tmp.unlink()
    return wheel
