"""``SSHHost``: the :class:`~tensornode.providers.base.Host` of a remote machine, over SSH.

Fluence VMs and the servers of the ``ssh`` provider are reached the same way: one asyncssh
connection per machine (kept open by an :class:`SSHConnector` shared by the provider),
authenticated with the coordinator's key, the host key pinned on first use and checked
after (:mod:`tensornode.providers.ssh_keys`).

Commands run through the login shell of the remote user, each line of the script quoted
by :func:`shlex.quote`, in the VM's work directory (relative to the login home unless
absolute), under GNU ``timeout`` so a command that outlives its limit is killed on the
host even if the connection drops; the local deadline is a backstop. Exit codes are the
remote process's own. Long-lived processes (``spawn``) run in a session of their own
with their output in a log file; their pid and kernel start time are kept in
``.tensornode/pids/`` in the workdir, so a pid reused by an unrelated process is never
signalled. Files go over SFTP, written to a temporary name and renamed into place.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import shlex
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from tensornode.config import Settings
from tensornode.errors import InvalidInput, NotFound, ProviderError, RuntimeFailure
from tensornode.providers.base import CommandResult, OutputSink
from tensornode.providers.local_host import OUTPUT_KEEP_CHARS, OutputTail, pump_lines
from tensornode.providers.ssh_keys import CoordinatorKey, HostKeyMismatch, HostKeyPins

log = logging.getLogger(__name__)

KILL_AFTER_S = 5
"""After a command's timeout, ``timeout`` sends SIGKILL this much later."""
_BACKSTOP_S = KILL_AFTER_S + 10.0
_PIDS = ".tensornode/pids"
# the kernel start time of $1 (field 22 of /proc/PID/stat, after the comm's last ')'),
# empty for a zombie or a gone process
_START_TIME = (
    "st() { s=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null) || return 0; "
    'set -- $s; [ "$1" = Z ] || echo "${20}"; }'
)


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to log in."""

    host: str
    port: int = 22
    user: str = "root"
    key_path: Path | None = None  # None: the coordinator's own key

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


class _PinningClient(asyncssh.SSHClient):
    """Accepts the host key its pins accept (trust on first use); remembers a mismatch."""

    def __init__(self, pins: HostKeyPins, target: SSHTarget) -> None:
        self.pins = pins
        self.target = target
        self.mismatch: HostKeyMismatch | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        try:
            self.pins.check(self.target.host, self.target.port, key)
        except HostKeyMismatch as exc:
            self.mismatch = exc
            return False
        return True


def _no_known_hosts(
    host: str, addr: str, port: int | None
) -> tuple[list[str], list[str], list[str]]:
    """No key is trusted up front: every key goes through the pinning client."""
    return [], [], []


class SSHConnector:
    """Open SSH connections, one per target, shared by every host of a provider."""

    def __init__(
        self,
        key: CoordinatorKey,
        pins: HostKeyPins,
        *,
        connect_timeout: float = 20.0,
        keepalive: float = 30.0,
    ) -> None:
        self.key = key
        self.pins = pins
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self._connections: dict[SSHTarget, asyncssh.SSHClientConnection] = {}
        self._locks: dict[SSHTarget, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> SSHConnector:
        """The coordinator's key and pins, with the configured timeouts."""
        return cls(
            CoordinatorKey.from_settings(settings),
            HostKeyPins.from_settings(settings),
            connect_timeout=settings.ssh.connect_timeout_s,
            keepalive=settings.ssh.keepalive_s,
        )

    async def connection(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        """An open connection to ``target`` (made now if none is open)."""
        lock = self._locks.setdefault(target, asyncio.Lock())
        async with lock:
            conn = self._connections.get(target)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await self._connect(target)
            self._connections[target] = conn
            return conn

    def drop(self, target: SSHTarget) -> None:
        """Forget (and close) the connection to ``target`` after it failed."""
        conn = self._connections.pop(target, None)
        if conn is not None:
            conn.close()

    async def close(self) -> None:
        for target in list(self._connections):
            conn = self._connections.pop(target)
            conn.close()
            await conn.wait_closed()

    async def _connect(self, target: SSHTarget) -> asyncssh.SSHClientConnection:
        key = (
            asyncssh.read_private_key(target.key_path)
            if target.key_path is not None
            else self.key.private_key()
        )
        pinned = self.pins.pinned(target.host, target.port)
        client = _PinningClient(self.pins, target)
        extra: dict[str, object] = {}
        if pinned is not None:  # negotiate the pinned key's type, so a change is seen
            extra["server_host_key_algs"] = [pinned.get_algorithm()]
        try:
            conn, _ = await asyncssh.create_connection(
                lambda: client,
                target.host,
                target.port,
                username=target.user,
                client_keys=[key],
                known_hosts=_no_known_hosts,
                config=None,
                agent_path=None,
                password=None,
                kbdint_auth=False,
                connect_timeout=self.connect_timeout,
                login_timeout=self.connect_timeout,
                keepalive_interval=self.keepalive,
                **extra,
            )
        except asyncssh.HostKeyNotVerifiable:
            if client.mismatch is not None:
                raise client.mismatch from None
            raise ProviderError(f"{target}: SSH host key not accepted") from None
        except asyncssh.PermissionDenied:
            raise ProviderError(
                f"SSH login to {target} was refused: add the coordinator's public key to "
                f"~{target.user}/.ssh/authorized_keys on that host"
            ) from None
        except (OSError, TimeoutError, asyncssh.Error) as exc:
            raise ProviderError(
                f"cannot reach {target} over SSH ({_describe(exc)}): check that the host is "
                "up, that sshd listens on that port and that a firewall lets it through"
            ) from None
        log.info("SSH connected", extra={"target": str(target)})
        return conn


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, asyncssh.Error):
        return exc.reason or type(exc).__name__
    return str(exc) or type(exc).__name__


class SSHHost:
    """A remote machine acting as the host of one VM (see the module docstring)."""

    def __init__(
        self,
        vm_id: str,
        connector: SSHConnector,
        target: SSHTarget,
        *,
        address: str,
        workdir: str,
    ) -> None:
        self.vm_id = vm_id
        self.connector = connector
        self.target = target
        self._address = address
        self._workdir = workdir.rstrip("/") or "."

    @property
    def address(self) -> str:
        return self._address

    @property
    def workdir(self) -> str:
        return self._workdir

    async def reconnect(self) -> None:
        """Log in afresh on the next command (so group changes, e.g. ``docker``, apply)."""
        self.connector.drop(self.target)

    def resolve(self, path: str) -> str:
        """``path`` inside the workdir; InvalidInput if it is absolute or leaves it."""
        norm = posixpath.normpath(path) if path else ""
        if not path or posixpath.isabs(path) or norm == ".." or norm.startswith("../"):
            raise InvalidInput(f"VM {self.vm_id}: path must stay inside the VM's workdir: {path!r}")
        return posixpath.join(self._workdir, norm)

    # -- commands ---------------------------------------------------------------------

    def _script(self, lines: Sequence[str]) -> str:
        workdir = shlex.quote(self._workdir)
        return " && ".join([f"mkdir -p {workdir}", f"cd {workdir}", *lines])

    async def shell(
        self, script: str, *, timeout: float = 60.0, on_output: OutputSink | None = None
    ) -> CommandResult:
        """Run a shell script in the workdir (internal use: argv-building callers quote)."""
        return await self._execute(("sh", "-c", script), self._script([script]), timeout, on_output)

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 600.0,
        on_output: OutputSink | None = None,
    ) -> CommandResult:
        """Run ``argv`` to completion on the host, stdout and stderr merged; a timeout
        kills it there and raises RuntimeFailure."""
        args = tuple(argv)
        if not args:
            raise InvalidInput(f"VM {self.vm_id}: empty command")
        limit = max(1, int(timeout + 0.999))
        command = shlex.join(
            ["timeout", "-k", str(KILL_AFTER_S), str(limit), "env", *_env_args(env), *args]
        )
        return await self._execute(args, self._script([command]), timeout, on_output)

    async def _execute(
        self, args: tuple[str, ...], script: str, timeout: float, on_output: OutputSink | None
    ) -> CommandResult:
        tail = OutputTail(OUTPUT_KEEP_CHARS)
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with self._session() as conn:
            try:
                process = await conn.create_process(
                    script, stdin=asyncssh.DEVNULL, stderr=asyncssh.STDOUT, encoding=None
                )
            except asyncssh.ChannelOpenError as exc:
                raise ProviderError(f"VM {self.vm_id}: {self.target}: {exc.reason}") from None
            try:
                async with asyncio.timeout(timeout + _BACKSTOP_S):
                    await pump_lines(process.stdout, tail, on_output)
                    completed = await process.wait(check=False)
            except TimeoutError:
                process.close()
                raise self._timed_out(args, timeout) from None
            finally:
                process.close()
        code = _exit_code(completed)
        if code == 124 and loop.time() - started >= timeout:
            raise self._timed_out(args, timeout)
        return CommandResult(args, code, tail.text())

    def _timed_out(self, args: tuple[str, ...], timeout: float) -> RuntimeFailure:
        return RuntimeFailure(
            f"VM {self.vm_id}: command timed out after {timeout:g} s and was killed: "
            f"{shlex.join(args)}"
        )

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """The connection, with SSH failures turned into ProviderError (and it dropped)."""
        conn = await self.connector.connection(self.target)
        try:
            yield conn
        except (asyncssh.Error, OSError) as exc:
            self.connector.drop(self.target)
            raise ProviderError(
                f"VM {self.vm_id}: SSH connection to {self.target} failed: {_describe(exc)}"
            ) from None

    async def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, log_path: str
    ) -> int:
        """Start ``argv`` detached in a session of its own, output appended to ``log_path``."""
        args = list(argv)
        if not args:
            raise InvalidInput(f"VM {self.vm_id}: empty command")
        log_file = shlex.quote(posixpath.relpath(self.resolve(log_path), self._workdir))
        command = shlex.join(["env", *_env_args(env), *args])
        script = (
            f'{_START_TIME}; mkdir -p {_PIDS} "$(dirname {log_file})" && '
            f"{{ setsid {command} >>{log_file} 2>&1 </dev/null & }} && p=$! && "
            f"st $p >{_PIDS}/$p && echo $p"
        )
        result = await self._execute(tuple(args), self._script([script]), 30.0, None)
        last = result.output.strip().splitlines()[-1:] or [""]
        if result.exit_code != 0 or not last[0].isdigit():
            raise RuntimeFailure(
                f"VM {self.vm_id}: cannot start {args[0]} (exit {result.exit_code}): "
                f"{result.output.strip()[-300:]}"
            )
        pid = int(last[0])
        log.info("spawned %s over SSH", args[0], extra={"vm_id": self.vm_id, "pid": pid})
        return pid

    def _alive_check(self, pid: int) -> str:
        """Shell: exit 0 while ``pid`` is the process this host spawned and it runs."""
        return (
            f'{_START_TIME}; t=$(cat {_PIDS}/{pid} 2>/dev/null) && [ -n "$t" ] && '
            f'[ "$(st {pid})" = "$t" ]'
        )

    async def is_alive(self, pid: int) -> bool:
        result = await self._execute(
            ("is_alive", str(pid)), self._script([self._alive_check(pid)]), 30.0, None
        )
        return result.exit_code == 0

    async def kill(self, pid: int, *, grace: float = 5.0) -> None:
        """SIGTERM the process's group, SIGKILL after ``grace`` s; no error if it is gone."""
        rounds = max(1, int(grace * 10))
        alive = self._alive_check(pid)
        script = (
            f"if {{ {alive}; }}; then kill -TERM -{pid} 2>/dev/null; i=0; "
            f"while {{ {alive}; }} && [ $i -lt {rounds} ]; do sleep 0.1; i=$((i+1)); done; "
            f"kill -KILL -{pid} 2>/dev/null; i=0; "
            f"while {{ {alive}; }} && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; fi; "
            f"if {{ {alive}; }}; then echo survived; exit 1; fi; rm -f {_PIDS}/{pid}"
        )
        result = await self._execute(("kill", str(pid)), self._script([script]), grace + 30, None)
        if result.exit_code != 0:
            raise RuntimeFailure(f"VM {self.vm_id}: process {pid} survived SIGKILL")

    # -- files ------------------------------------------------------------------------

    async def write_file(self, path: str, data: bytes, *, mode: int = 0o644) -> None:
        target = self.resolve(path)
        tmp = posixpath.join(posixpath.dirname(target), f".{posixpath.basename(target)}.tmp")
        async with self._session() as conn, conn.start_sftp_client() as sftp:
            try:
                await sftp.makedirs(posixpath.dirname(target), exist_ok=True)
                async with sftp.open(tmp, "wb", asyncssh.SFTPAttrs(permissions=mode)) as f:
                    await f.write(data)
                await sftp.chmod(tmp, mode)
                await sftp.posix_rename(tmp, target)
            except asyncssh.SFTPError as exc:
                raise RuntimeFailure(
                    f"VM {self.vm_id}: cannot write {path}: {exc.reason}"
                ) from None

    async def read_file(self, path: str, *, tail_bytes: int | None = None) -> bytes:
        """The file's content, or its last ``tail_bytes`` bytes; NotFound if absent."""
        target = self.resolve(path)
        async with self._session() as conn, conn.start_sftp_client() as sftp:
            try:
                async with sftp.open(target, "rb") as f:
                    if tail_bytes is not None:
                        size = (await f.stat()).size or 0
                        await f.seek(max(0, size - tail_bytes))
                    data = await f.read()
            except asyncssh.SFTPNoSuchFile:
                raise NotFound(f"VM {self.vm_id}: no such file: {path}") from None
            except asyncssh.SFTPError as exc:
                raise RuntimeFailure(f"VM {self.vm_id}: cannot read {path}: {exc.reason}") from None
        if isinstance(data, str):  # only with an encoding, which we never pass
            return data.encode()
        return bytes(data)


def _env_args(env: Mapping[str, str] | None) -> list[str]:
    """``NAME=value`` words for ``env``; a bad name is refused (it would be a command)."""
    words = []
    for name, value in (env or {}).items():
        if (
            not name
            or not (name[0].isalpha() or name[0] == "_")
            or not all(c.isalnum() or c == "_" for c in name)
        ):
            raise InvalidInput(f"bad environment variable name {name!r}")
        words.append(f"{name}={value}")
    return words


def _exit_code(completed: asyncssh.SSHCompletedProcess) -> int:
    """The remote exit status; a signal is negative (as subprocess reports it)."""
    if completed.exit_status is not None and completed.exit_status >= 0:
        return completed.exit_status
    signals = {"TERM": 15, "KILL": 9, "INT": 2, "HUP": 1, "PIPE": 13, "SEGV": 11, "ABRT": 6}
    if completed.exit_signal is not None:
        return -signals.get(completed.exit_signal[0], 1)
    return -1
