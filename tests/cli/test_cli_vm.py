"""``tensornode vm ...`` and ``tensornode deploy --count`` against a real coordinator."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tensornode.cli.main import app

from .conftest import WALLET


def tn(
    runner: CliRunner, url: str, *args: str, wallet: str | None = WALLET
) -> tuple[int, str, str]:
    argv = [*args, "--coordinator", url]
    if wallet is not None:
        argv += ["--wallet", wallet]
    result = runner.invoke(app, argv)
    return result.exit_code, result.stdout, result.stderr


def test_deploy_count_then_every_vm_command(runner: CliRunner, coordinator_url: str) -> None:
    url = coordinator_url
    code, out, err = tn(runner, url, "deploy", "--count", "2", "--name", "fleet")
    assert code == 0, err
    assert err.startswith("deploying 2 x builtin miner (llm=tiny)\n")
    assert out.rstrip().endswith("2 miner(s) healthy")

    code, out, err = tn(runner, url, "vm", "ls", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert listed["count"] == 2
    assert sorted(vm["name"] for vm in listed["data"]) == ["fleet-1", "fleet-2"]
    for vm in listed["data"]:
        assert vm["deploymentState"] == "healthy"
        assert httpx.get(f"{vm['endpoint']}/health", timeout=5).json()["status"] == "healthy"
    first, second = sorted(listed["data"], key=lambda vm: vm["name"])
    first, second = first["id"], second["id"]

    code, out, err = tn(runner, url, "vm", "ls")
    assert code == 0, err
    assert first in out and second in out
    assert out.count("healthy") == 2

    code, out, err = tn(runner, url, "vm", "show", first)
    assert code == 0, err
    assert f"id  {first}" in out
    assert "healthy at http://127.0.0.1:" in out  # the deployment's events

    code, out, err = tn(runner, url, "vm", "logs", first, "--tail", "50")
    assert code == 0, err
    assert "miner started, pid" in out

    code, out, err = tn(runner, url, "vm", "stop", first)
    assert code == 0, err
    assert out.strip() == f"stopped the miner on VM {first}"
    code, out, err = tn(runner, url, "vm", "show", first, "--json")
    assert json.loads(out)["deployments"]["data"][0]["state"] == "stopped"

    code, out, err = tn(runner, url, "vm", "rm", first)
    assert code == 0, err
    assert out.strip() == f"terminated VM {first}"
    code, out, err = tn(runner, url, "vm", "ls", "--json")
    assert [vm["id"] for vm in json.loads(out)["data"]] == [second]


def test_vm_deploy_rents_a_vm_without_a_miner(runner: CliRunner, coordinator_url: str) -> None:
    code, out, err = tn(runner, coordinator_url, "vm", "deploy", "--name", "bare", "--json")
    assert code == 0, err
    vm = json.loads(out)
    assert vm["name"] == "bare"
    assert vm["deploymentState"] is None
    code, out, err = tn(runner, coordinator_url, "vm", "ls", "--json")
    assert [v["id"] for v in json.loads(out)["data"]] == [vm["id"]]

    # a command on the VM: its output, and its exit code as the CLI's (dev mode: local VM)
    for _ in range(100):  # the VM launches for 0.2 s
        shown = httpx.get(f"{coordinator_url}/vms/{vm['id']}", headers={"X-Wallet-Address": WALLET})
        if shown.json()["status"] == "active":
            break
        time.sleep(0.05)
    options = ["--coordinator", coordinator_url, "--wallet", WALLET]
    command = ["sh", "-c", "echo hello from $(basename $PWD); exit 4"]
    result = runner.invoke(app, ["vm", "exec", vm["id"], *options, "--", *command])
    assert result.exit_code == 4, result.stderr
    assert result.stdout == "hello from work\n"


def test_an_api_error_is_one_line_and_exit_1(runner: CliRunner, coordinator_url: str) -> None:
    code, out, err = tn(runner, coordinator_url, "vm", "show", "nope")
    assert code == 1
    assert out == ""
    assert err == "error: VM nope not found\n"

    code, out, err = tn(runner, coordinator_url, "vm", "stop", "nope")
    assert (code, err) == (1, "error: VM nope not found\n")

    code, _, err = tn(runner, coordinator_url, "vm", "ls", wallet=None)
    assert code == 1
    assert err.startswith("error: walletAddress required")
    assert err.count("\n") == 1

    code, _, err = tn(runner, coordinator_url, "vm", "deploy", "--configuration", "gpu-9000")
    assert code == 1
    assert err.startswith("error: unknown configuration 'gpu-9000' (available: ")


def test_an_unreachable_coordinator_is_one_line(runner: CliRunner) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = tn(runner, f"http://127.0.0.1:{port}", "vm", "ls")
    assert code == 1
    assert err == (
        f"error: cannot reach the coordinator at http://127.0.0.1:{port} (ConnectError);"
        " is it running? (tensornode up)\n"
    )


def test_an_api_key_from_the_environment_is_sent_as_bearer(
    runner: CliRunner, coordinator_url: str, tmp_path: Path
) -> None:
    # a subprocess, as a user runs it (in-process it would point logging at the runner's stderr)
    made = subprocess.run(
        [sys.executable, "-m", "tensornode.cli.main", "coordinator", "apikey", "create", WALLET],
        env={**os.environ, "TENSORNODE_DATA_DIR": str(tmp_path / "coordinator")},
        capture_output=True,
        text=True,
        check=True,
    )
    key = made.stdout.strip()
    env = {"TENSORNODE_COORDINATOR_URL": coordinator_url, "TENSORNODE_API_KEY": key}
    listed = runner.invoke(app, ["vm", "ls"], env=env)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.startswith("no VMs")
    env["TENSORNODE_API_KEY"] = "tn_not-a-key"
    refused = runner.invoke(app, ["vm", "ls"], env=env)
    assert (refused.exit_code, refused.stderr) == (1, "error: invalid API key\n")


def test_deploy_uploads_a_dockerfile_and_reports_why_its_miner_failed(
    runner: CliRunner, coordinator_url: str, tmp_path: Path
) -> None:
    # an image with nothing to run: it fails with or without a Docker engine, never hangs
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('FROM scratch\nCMD ["/no-such-server"]\n')
    code, out, err = tn(
        runner, coordinator_url, "deploy", "--dockerfile", str(dockerfile), "--timeout", "120"
    )
    assert code == 1
    assert out == ""
    last = err.strip().splitlines()[-1]
    pattern = r"error: VM miner-\S+ \((\w+)\): the miner failed: .+ \(see `tensornode vm logs \1`\)"
    assert re.fullmatch(pattern, last), last  # one line, even when the build output is long
    code, out, _ = tn(runner, coordinator_url, "vm", "ls", "--json")
    (vm,) = json.loads(out)["data"]
    assert vm["deploymentState"] == "failed"
    deps = httpx.get(
        f"{coordinator_url}/vms/{vm['id']}/deployments",
        headers={"X-Wallet-Address": WALLET},
        timeout=10,
    ).json()
    assert deps["data"][0]["source"] == "upload"


def test_a_bad_dockerfile_is_refused_before_any_vm_is_rented(
    runner: CliRunner, coordinator_url: str, tmp_path: Path
) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("RUN echo hi\n")
    code, _, err = tn(runner, coordinator_url, "deploy", "--dockerfile", str(dockerfile))
    assert code == 1
    assert err.endswith(
        "error: not a Dockerfile: its first instruction must be FROM, but line 1 is RUN\n"
    )
    code, out, _ = tn(runner, coordinator_url, "vm", "ls", "--json")
    assert json.loads(out)["count"] == 0
