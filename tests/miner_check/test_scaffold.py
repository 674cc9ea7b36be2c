"""``tensornode miner init``: a project that builds on our miner and passes ``miner check``."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from tensornode.cli.main import app
from tensornode.contracts.miner_check import CheckStatus
from tensornode.errors import Conflict, InvalidInput
from tensornode.miner.backends import BackendContext
from tensornode.miner.backends.base import Backend, GenerationRequest
from tensornode.miner.check import check_miner
from tensornode.miner.scaffold import scaffold_miner

from .servers import free_port, start_server, stop_server

PROJECT_FILES = {"Dockerfile", "README.md", "my_backend.py", "requirements.txt", ".dockerignore"}


def _instructions(dockerfile: Path) -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = dockerfile.read_text().replace("\\\n", " ")
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _import(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("scaffolded_backend", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_init_writes_the_project(tmp_path: Path) -> None:
    project = tmp_path / "My LLM Miner"
    written = scaffold_miner(project)

    assert {p.name for p in written} == PROJECT_FILES
    assert {p.name for p in project.iterdir()} == PROJECT_FILES
    assert "# my-llm-miner — a TensorNode miner" in (project / "README.md").read_text()
    assert 'MODEL_NAME = "my-llm-miner"' in (project / "my_backend.py").read_text()


def test_dockerfile_runs_miner_serve_on_port_with_a_healthcheck(tmp_path: Path) -> None:
    scaffold_miner(tmp_path / "m")
    instructions = _instructions(tmp_path / "m" / "Dockerfile")

    assert instructions[0].startswith("FROM ")
    assert [i for i in instructions if i.startswith("HEALTHCHECK ")]
    assert "EXPOSE 3000" in instructions
    assert any(i.startswith("ENV ") and "PORT=3000" in i.split() for i in instructions)
    cmd = json.loads(next(i for i in instructions if i.startswith("CMD "))[4:])
    assert cmd == ["python", "my_backend.py", "--host", "0.0.0.0", "--model", "llm=my-backend"]
    for copy in (i for i in instructions if i.startswith("COPY ")):
        *sources, _ = copy.split()[1:]
        assert all((tmp_path / "m" / s).exists() for s in sources), copy


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    with pytest.raises(Conflict) as exc:
        scaffold_miner(tmp_path)

    assert str(exc.value) == f"{tmp_path} is not empty; pass --force to write into it anyway"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_force_writes_and_keeps_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "Dockerfile").write_text("old")

    scaffold_miner(tmp_path, force=True)

    assert {p.name for p in tmp_path.iterdir()} == PROJECT_FILES | {"notes.txt"}
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "Dockerfile").read_text().startswith("FROM ")


def test_init_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")

    with pytest.raises(InvalidInput, match="exists and is not a directory"):
        scaffold_miner(target)


def test_example_backend_satisfies_the_backend_protocol(tmp_path: Path) -> None:
    scaffold_miner(tmp_path / "m")
    module = _import(tmp_path / "m" / "my_backend.py")

    backend = module.make_backend("", BackendContext(data_dir=tmp_path))
    assert isinstance(backend, Backend)
    backend.load()
    assert backend.info().model_name == "m"
    requests = [
        GenerationRequest(prompt="What is 2 + 2?", max_tokens=5, temperature=0.0),
        GenerationRequest(prompt="Say hi", max_tokens=3, seed=1),
    ]
    first = backend.generate_batch(requests)
    assert len(first) == 2
    assert [r.completion_tokens for r in first] == [5, 3]
    assert backend.generate_batch(requests) == first  # deterministic
    backend.close()


def test_generated_project_serves_on_port_and_passes_check(tmp_path: Path) -> None:
    project = tmp_path / "m"
    scaffold_miner(project)
    port = free_port()
    env = {**os.environ, "PORT": str(port)}  # as in the image: the port comes from $PORT
    cmd = [sys.executable, str(project / "my_backend.py"), "--host", "127.0.0.1"]
    cmd += ["--model", "llm=my-backend", "--data-dir", str(tmp_path / "data")]
    url = f"http://127.0.0.1:{port}"
    proc = start_server(cmd, f"{url}/health", tmp_path / "serve.log", env=env, deadline_s=60)
    try:
        report = asyncio.run(check_miner(url, timeout=10, requests=2, model_type="llm"))
        healthcheck = _healthcheck_argv(project / "Dockerfile")
        healthy = subprocess.run(healthcheck, env=env, capture_output=True, timeout=30)
    finally:
        stop_server(proc)
    down = subprocess.run(healthcheck, env=env, capture_output=True, timeout=30)

    assert report.ok
    assert [r for r in report.results if r.status is not CheckStatus.PASS] == []
    assert healthy.returncode == 0, healthy.stderr
    assert down.returncode != 0


def _healthcheck_argv(dockerfile: Path) -> list[str]:
    line = next(i for i in _instructions(dockerfile) if i.startswith("HEALTHCHECK "))
    argv = json.loads(line.split(" CMD ", 1)[1])
    assert isinstance(argv, list) and argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_cli_init_and_refusal(tmp_path: Path) -> None:
    runner = CliRunner()
    project = tmp_path / "proj"

    first = runner.invoke(app, ["miner", "init", str(project)])
    again = runner.invoke(app, ["miner", "init", str(project)])
    forced = runner.invoke(app, ["miner", "init", str(project), "--force"])

    assert first.exit_code == 0, first.output
    assert f"wrote {project / 'Dockerfile'}" in first.output
    assert again.exit_code == 1
    assert again.output == (
        f"error: {project} is not empty; pass --force to write into it anyway\n"
    )
    assert forced.exit_code == 0
