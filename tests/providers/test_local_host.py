"""LocalHost: commands, detached processes and files of a local VM, on real subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from tensornode.errors import InvalidInput, NotFound, RuntimeFailure
from tensornode.providers.base import Host
from tensornode.providers.local_host import LocalHost, process_start_time

from .conftest import PY, eventually, gone, wait_until_gone


def test_local_host_is_a_host(host: LocalHost, vm_dir: Path) -> None:
    assert isinstance(host, Host)
    assert host.address == "127.0.0.1"
    assert host.workdir == str((vm_dir / "work").resolve())


# -- run ------------------------------------------------------------------------------


async def test_run_reports_output_and_zero_exit(host: LocalHost) -> None:
    result = await host.run([PY, "-c", "import os; print('hello'); print(os.getcwd())"])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["hello", host.workdir]
    assert result.argv[0] == PY


async def test_run_reports_the_real_exit_code_not_a_wait_status(host: LocalHost) -> None:
    result = await host.run([PY, "-c", "import sys; print('bad', file=sys.stderr); sys.exit(3)"])
    assert result.exit_code == 3  # os.system would say 768
    assert result.output == "bad"


async def test_run_reports_a_killing_signal_as_negative(host: LocalHost) -> None:
    result = await host.run(["sh", "-c", "kill -9 $$"])
    assert result.exit_code == -signal.SIGKILL


async def test_run_missing_program_is_127_like_a_shell(host: LocalHost) -> None:
    result = await host.run(["tensornode-no-such-program", "x"])
    assert result.exit_code == 127
    assert result.output == "tensornode-no-such-program: command not found"


async def test_run_streams_lines_in_order_stdout_and_stderr_merged(host: LocalHost) -> None:
    script = textwrap.dedent(
        """
        import sys
        print("one", flush=True)
        print("two", file=sys.stderr, flush=True)
        sys.stdout.write("x" * 200000 + "\\nno newline at the end")
        """
    )
    seen: list[str] = []

    async def sink(line: str) -> None:
        seen.append(line)

    result = await host.run([PY, "-c", script], on_output=sink)
    assert result.exit_code == 0
    assert seen == ["one", "two", "x" * 200000, "no newline at the end"]
    # the result keeps the tail of the output, whole lines at the end
    assert result.output.endswith("x" * 1000 + "\nno newline at the end")


async def test_run_passes_env_but_not_the_coordinators_secrets(
    host: LocalHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENSORNODE_OPERATOR_KEY", "secret")
    code = "import os; print(os.environ.get('TENSORNODE_OPERATOR_KEY'), os.environ['GREETING'])"
    result = await host.run([PY, "-c", code], env={"GREETING": "hi"})
    assert result.output == "None hi"


async def test_run_timeout_kills_the_whole_process_group(host: LocalHost, tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    script = textwrap.dedent(
        f"""
        import subprocess, time
        child = subprocess.Popen(["sleep", "600"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        print("started", flush=True)
        time.sleep(600)
        """
    )
    with pytest.raises(RuntimeFailure) as caught:
        await host.run([PY, "-c", script], timeout=3)
    assert "command timed out after 3 s and was killed" in caught.value.message
    assert "local-0123456789ab" in caught.value.message
    grandchild = int(pid_file.read_text())
    assert await wait_until_gone(grandchild), "the command's own child survived the timeout"


async def test_run_refuses_an_empty_command(host: LocalHost) -> None:
    with pytest.raises(InvalidInput):
        await host.run([])


# -- spawn, is_alive, kill --------------------------------------------------------------


async def test_spawn_detaches_logs_records_and_kill_stops(host: LocalHost, vm_dir: Path) -> None:
    code = "import os, time; print('up', os.getsid(0) == os.getpid(), flush=True); time.sleep(600)"
    pid = await host.spawn([PY, "-c", code], log_path="logs/p.log")
    assert await host.is_alive(pid)
    records = json.loads((vm_dir / "processes.json").read_text())
    assert [r["pid"] for r in records] == [pid]
    assert records[0]["started"] == process_start_time(pid)

    async def logged() -> bool:
        return bool(await host.read_file("logs/p.log"))

    assert await eventually(logged)
    log = await host.read_file("logs/p.log")
    assert log == b"up True\n"  # its own session: the leader of its process group

    await host.kill(pid, grace=5)
    assert gone(pid)
    assert not await host.is_alive(pid)
    assert json.loads((vm_dir / "processes.json").read_text()) == []
    await host.kill(pid)  # already gone: no error


async def test_kill_escalates_to_sigkill_after_grace(host: LocalHost) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    pid = await host.spawn([PY, "-c", code], log_path="stubborn.log")
    await host.kill(pid, grace=0.5)
    assert gone(pid)


async def test_exited_process_is_not_alive_and_is_reaped(host: LocalHost) -> None:
    pid = await host.spawn([PY, "-c", "pass"], log_path="quick.log")

    async def exited() -> bool:
        return not await host.is_alive(pid)

    assert await eventually(exited)
    assert gone(pid)  # reaped: no zombie left behind


async def test_kill_leaves_processes_it_did_not_spawn_alone(host: LocalHost) -> None:
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        assert not await host.is_alive(stranger.pid)
        await host.kill(stranger.pid, grace=0.1)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


async def test_a_restarted_coordinator_finds_and_stops_spawned_processes(vm_dir: Path) -> None:
    # another process (the "old coordinator") spawns, records and exits
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from tensornode.providers.local_host import LocalHost
        host = LocalHost("local-0123456789ab", Path({str(vm_dir)!r}))
        pid = asyncio.run(host.spawn(["sleep", "600"], log_path="sleep.log"))
        print(pid)
        """
    )
    done = subprocess.run([PY, "-c", script], capture_output=True, text=True, check=True)
    pid = int(done.stdout)
    assert not gone(pid)

    fresh = LocalHost("local-0123456789ab", vm_dir)
    assert fresh.spawned_pids() == [pid]
    assert await fresh.is_alive(pid)
    await fresh.kill_all(grace=5)
    assert await wait_until_gone(pid)
    assert fresh.spawned_pids() == []


async def test_a_recycled_pid_is_not_signalled(host: LocalHost, vm_dir: Path) -> None:
    stranger = subprocess.Popen(["sleep", "600"])
    try:
        # a record whose start time does not match: the pid now belongs to someone else
        rows = [{"pid": stranger.pid, "started": "1", "argv0": "sleep"}]
        (vm_dir / "processes.json").write_text(json.dumps(rows))
        assert not await host.is_alive(stranger.pid)
        await host.kill(stranger.pid, grace=0.1)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


async def test_spawn_of_a_missing_program_is_a_runtime_failure(host: LocalHost) -> None:
    with pytest.raises(RuntimeFailure, match="cannot start tensornode-no-such-program"):
        await host.spawn(["tensornode-no-such-program"], log_path="x.log")


# -- files ------------------------------------------------------------------------------


async def test_write_and_read_files(host: LocalHost) -> None:
    await host.write_file("a/b/c.txt", b"0123456789", mode=0o600)
    path = Path(host.workdir) / "a/b/c.txt"
    assert path.read_bytes() == b"0123456789"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert await host.read_file("a/b/c.txt") == b"0123456789"
    assert await host.read_file("a/b/c.txt", tail_bytes=3) == b"789"
    assert await host.read_file("a/b/c.txt", tail_bytes=100) == b"0123456789"
    await host.write_file("a/b/c.txt", b"new")
    assert await host.read_file("a/b/c.txt") == b"new"


async def test_reading_a_missing_file_is_not_found(host: LocalHost) -> None:
    with pytest.raises(NotFound, match=r"no such file: nope\.txt"):
        await host.read_file("nope.txt")


@pytest.mark.parametrize("path", ["../escape.txt", "a/../../escape.txt", "/etc/passwd", ""])
async def test_paths_escaping_the_workdir_are_refused(host: LocalHost, path: str) -> None:
    with pytest.raises(InvalidInput, match="path"):
        await host.write_file(path, b"x")
    with pytest.raises(InvalidInput, match="path"):
        await host.read_file(path)
    with pytest.raises(InvalidInput, match="path"):
        await host.spawn(["true"], log_path=path)


async def test_a_symlink_out_of_the_workdir_is_refused(host: LocalHost, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(host.workdir) / "link").symlink_to(outside)
    with pytest.raises(InvalidInput, match="escapes"):
        await host.write_file("link/x.txt", b"x")
    assert not (outside / "x.txt").exists()
