"""``LocalHost``: the :class:`~tensornode.providers.base.Host` of a ``local`` VM.

Commands run as asyncio subprocesses of this process, in the VM's work directory, each in
a session of its own so a timeout can kill its whole process group. Long-lived processes
(``spawn``) are detached and recorded with their start time in the VM directory
(``processes.json``), so a restarted coordinator can still find and stop them, and a pid
the kernel has since given to an unrelated process is never signalled.

Children see a filtered environment (:data:`PASSED_ENV`), not the coordinator's: a VM has
no business reading the coordinator's secrets. Exit codes are the process's own
(negative: killed by that signal), never a wait status. This module is Linux-only
(``/proc`` tells process start times).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import signal
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tensornode.errors import InvalidInput, NotFound, RuntimeFailure
from tensornode.providers.base import CommandResult, OutputSink

log = logging.getLogger(__name__)

PASSED_ENV = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR",
        "PYTHONPATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "HF_HOME", "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE", "DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG",
        "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY",
    }
)  # fmt: skip
"""Variables of the coordinator's environment a VM's processes inherit (and ``LC_*``)."""

OUTPUT_KEEP_CHARS = 64 * 1024
"""How much of a command's output :class:`CommandResult` keeps (the tail)."""

_READ_CHUNK = 64 * 1024
_POLL_S = 0.05
_KILL_WAIT_S = 10.0

# Children spawned by this process, kept so they can be reaped (and so Popen does not
# warn about a running child being garbage-collected). Keyed by pid; process-wide.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has finished; it only waits to be reaped
        return None
    return fields[19]


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True)
class _Spawned:
    pid: int
    started: str | None  # /proc start time at spawn
    argv0: str


class OutputTail:
    """The last ``limit`` characters of a stream of lines."""

    def __init__(self, limit: int) -> None:
        self._lines: deque[str] = deque()
        self._size = 0
        self._limit = limit

    def add(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line) + 1
        while (excess := self._size - self._limit) > 0:
            first = self._lines[0]
            if len(first) + 1 <= excess:
                self._lines.popleft()
                self._size -= len(first) + 1
            else:  # cut the oldest line's head
                self._lines[0] = first[excess:]
                self._size -= excess

    def text(self) -> str:
        return "\n".join(self._lines)


class ByteStream(Protocol):
    """What :func:`pump_lines` reads: an asyncio stream or an SSH channel's reader."""

    async def read(self, n: int = -1, /) -> bytes: ...


async def pump_lines(stream: ByteStream, tail: OutputTail, sink: OutputSink | None) -> None:
    """Read ``stream`` to EOF, line by line (any line length), into ``tail`` and ``sink``."""
    pending = b""
    while chunk := await stream.read(_READ_CHUNK):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            tail.add(line)
            if sink is not None:
                await sink(line)
    if pending:
        line = pending.rstrip(b"\r").decode("utf-8", errors="replace")
        tail.add(line)
        if sink is not None:
            await sink(line)


class LocalHost:
    """This machine, acting as the host of one ``local`` VM.

    ``vm_dir`` holds the VM's bookkeeping (``processes.json``); ``vm_dir/work`` is the
    work directory every relative path, command and process starts from.
    """

    def __init__(self, vm_id: str, vm_dir: Path, *, address: str = "127.0.0.1") -> None:
        self.vm_id = vm_id
        self._vm_dir = vm_dir
        self._workdir = (vm_dir / "work").resolve()
        self._address = address
        self._processes_file = vm_dir / "processes.json"

    @property
    def address(self) -> str:
        return self._address

    @property
    def workdir(self) -> str:
        return str(self._workdir)

    # -- paths and environment -------------------------------------------------------

    def resolve(self, path: str) -> Path:
        """``path`` inside the work directory; InvalidInput if it would escape it."""
        if not path or Path(path).is_absolute():
            raise InvalidInput(
                f"VM {self.vm_id}: path must be relative to the VM's workdir: {path!r}"
            )
        full = (self._workdir / path).resolve()
        if not full.is_relative_to(self._workdir):
            raise InvalidInput(f"VM {self.vm_id}: path escapes the VM's workdir: {path!r}")
        return full

    @staticmethod
    def child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
        """The environment of a VM's process: :data:`PASSED_ENV` and ``LC_*``, then ``extra``."""
        env = {k: v for k, v in os.environ.items() if k in PASSED_ENV or k.startswith("LC_")}
        env.update(extra or {})
        return env

    # -- commands ---------------------------------------------------------------------

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 600.0,
        on_output: OutputSink | None = None,
    ) -> CommandResult:
        """Run ``argv`` (no shell) to completion in the workdir, stdout and stderr merged.

        A missing program gives exit code 127 and a non-executable one 126, as a shell
        would, so runtimes treat local and remote hosts alike. On timeout (or
        cancellation) the command's whole process group is killed; a timeout raises
        RuntimeFailure.
        """
        args = tuple(argv)
        if not args:
            raise InvalidInput(f"VM {self.vm_id}: empty command")
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self._workdir,
                env=self.child_env(env),
                start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult(args, 127, f"{args[0]}: command not found")
        except PermissionError:
            return CommandResult(args, 126, f"{args[0]}: permission denied")
        assert proc.stdout is not None
        tail = OutputTail(OUTPUT_KEEP_CHARS)
        finished = False
        try:
            async with asyncio.timeout(timeout):
                await pump_lines(proc.stdout, tail, on_output)
                code = await proc.wait()
            finished = True
        except TimeoutError:
            raise RuntimeFailure(
                f"VM {self.vm_id}: command timed out after {timeout:g} s and was killed: "
                f"{shlex.join(args)}"
            ) from None
        finally:
            if not finished:
                _signal_group(proc.pid, signal.SIGKILL)
                await proc.wait()
        return CommandResult(args, code, tail.text())

    async def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log_path: str
    ) -> int:
        """Start ``argv`` detached (own session), output appended to ``log_path``."""
        args = list(argv)
        if not args:
            raise InvalidInput(f"VM {self.vm_id}: empty command")
        log_file = self.resolve(log_path)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(log_file, "ab") as out:
                child = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self._workdir,
                    env=self.child_env(env),
                    start_new_session=True,
                )
        except OSError as exc:
            raise RuntimeFailure(
                f"VM {self.vm_id}: cannot start {args[0]}: {exc.strerror or exc}"
            ) from None
        _CHILDREN[child.pid] = child
        spawned = self._spawned()
        spawned[child.pid] = _Spawned(child.pid, process_start_time(child.pid), args[0])
        self._save_spawned(spawned)
        log.info("spawned %s", args[0], extra={"vm_id": self.vm_id, "pid": child.pid})
        return child.pid

    async def is_alive(self, pid: int) -> bool:
        """True if ``pid`` is a process this host spawned and it still runs."""
        record = self._spawned().get(pid)
        return record is not None and self._alive(record)

    async def kill(self, pid: int, *, grace: float = 5.0) -> None:
        """Stop a spawned process and its group: SIGTERM, SIGKILL after ``grace`` seconds.

        Pids this host did not spawn (or whose process has been replaced) are left alone.
        """
        record = self._spawned().get(pid)
        if record is None:
            return
        if self._alive(record):
            _signal_group(pid, signal.SIGTERM)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + grace
            while self._alive(record) and loop.time() < deadline:
                await asyncio.sleep(_POLL_S)
            # the leader's children share its group and may outlive it: kill them all
            _signal_group(pid, signal.SIGKILL)
            deadline = loop.time() + _KILL_WAIT_S
            while self._alive(record):
                if loop.time() > deadline:
                    raise RuntimeFailure(f"VM {self.vm_id}: process {pid} survived SIGKILL")
                await asyncio.sleep(_POLL_S)
        _CHILDREN.pop(pid, None)
        spawned = self._spawned()
        spawned.pop(pid, None)
        self._save_spawned(spawned)

    async def kill_all(self, *, grace: float = 5.0) -> None:
        """Stop every process this host spawned for the VM."""
        await asyncio.gather(*(self.kill(pid, grace=grace) for pid in self._spawned()))

    # -- files ------------------------------------------------------------------------

    async def write_file(self, path: str, data: bytes, *, mode: int = 0o644) -> None:
        target = self.resolve(path)
        try:
            atomic_write(target, data, mode=mode)
        except OSError as exc:
            raise RuntimeFailure(f"VM {self.vm_id}: cannot write {path}: {exc.strerror}") from None

    async def read_file(self, path: str, *, tail_bytes: int | None = None) -> bytes:
        """The file's content, or its last ``tail_bytes`` bytes; NotFound if absent."""
        target = self.resolve(path)
        try:
            with open(target, "rb") as f:
                if tail_bytes is not None:
                    size = f.seek(0, os.SEEK_END)
                    f.seek(max(0, size - tail_bytes))
                return f.read()
        except FileNotFoundError:
            raise NotFound(f"VM {self.vm_id}: no such file: {path}") from None
        except OSError as exc:
            raise RuntimeFailure(f"VM {self.vm_id}: cannot read {path}: {exc.strerror}") from None

    # -- bookkeeping ------------------------------------------------------------------

    def _alive(self, record: _Spawned) -> bool:
        child = _CHILDREN.get(record.pid)
        if child is not None:
            return child.poll() is None  # poll() reaps our own exited child
        started = process_start_time(record.pid)
        return started is not None and started == record.started

    def _spawned(self) -> dict[int, _Spawned]:
        try:
            raw = json.loads(self._processes_file.read_bytes())
        except FileNotFoundError:
            return {}
        return {int(p["pid"]): _Spawned(int(p["pid"]), p["started"], p["argv0"]) for p in raw}

    def _save_spawned(self, spawned: Mapping[int, _Spawned]) -> None:
        rows = [{"pid": s.pid, "started": s.started, "argv0": s.argv0} for s in spawned.values()]
        atomic_write(self._processes_file, json.dumps(rows, indent=1).encode())

    def spawned_pids(self) -> list[int]:
        """Pids of the processes this host spawned for the VM and still tracks."""
        return sorted(self._spawned())
