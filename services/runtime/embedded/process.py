"""What the embedded Kafka and PostgreSQL launchers share.

Each server runs detached from the process that started it, so `impactline dev status` and
`impactline dev down` from another shell find it again through a small JSON state file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
Progress = Callable[[str], None]


def no_progress(_message: str) -> None:
    """Default progress sink: stay silent."""


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be installed, started or stopped; the message says why."""


@dataclass(frozen=True)
class ServerStatus:
    """What `impactline dev status` shows for one embedded server."""

    name: str
    running: bool
    pid: int | None = None
    address: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    log_file: Path | None = None


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it can be bound on 127.0.0.1 (keeps addresses stable across restarts)."""
    for candidate in (preferred, 0):
        if candidate is None:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As the servers themselves do, so a port whose old connections linger in TIME_WAIT
            # still counts as free; a port someone listens on still does not.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise EmbeddedServerError("no free TCP port on 127.0.0.1")


def port_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_state(path: Path, state: Mapping[str, Any]) -> None:
    """Atomic replace, so a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.chmod(path, 0o600)


# Popen objects of servers started by this process: kept so they are reaped, not left as zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn_detached(
    argv: list[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start `argv` in its own session (survives this process), output appended to `log_file`."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if log_file.exists() and log_file.stat().st_size > 0:
        log_file.replace(log_file.with_name(log_file.name + ".1"))  # keep the previous run's log
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        try:
            proc = subprocess.Popen(
                argv,
                stdin=devnull,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                close_fds=True,
                **_as_user(user),
            )
        except OSError as exc:
            raise EmbeddedServerError(f"cannot run {argv[0]}: {exc}") from exc
    _children[proc.pid] = proc
    return proc.pid


def _as_user(user: str | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user, "group": user, "extra_groups": []}


def run_tool(
    argv: list[str],
    *,
    what: str,
    user: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300.0,
) -> str:
    """Run a one-shot helper command; on failure raise with the end of its output."""
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            timeout=timeout,
            check=False,
            **_as_user(user),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddedServerError(f"{what} failed: {exc}") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        tail = "\n  ".join(output[-15:])
        raise EmbeddedServerError(f"{what} failed (exit {done.returncode}):\n  {tail}")
    return done.stdout


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a finished child of ours is reaped rather than counted alive."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) != "Z"


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[0]


def pid_runs(pid: int | None, marker: str) -> bool:
    """`pid` is alive and its command line mentions `marker` (guards against pid reuse)."""
    if not pid or not pid_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return True  # no /proc: trust the pid
    return marker.encode() in cmdline


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_process(pid: int, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Ask politely with `sig`, wait, and only then SIGKILL the whole process group."""
    if not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    if wait_gone(pid, timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)  # the server leads its own session, hence its group
    if not wait_gone(pid, 10.0):
        raise EmbeddedServerError(f"process {pid} did not exit even after SIGKILL")


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n  ".join(text.strip().splitlines()[-lines:])


async def wait_until_ready(
    probe: Callable[[], Awaitable[bool]],
    *,
    what: str,
    pid: int,
    log_file: Path,
    deadline_s: float,
    interval: float = 0.25,
) -> None:
    """Poll `probe` until it answers True; fail fast if the process dies, or at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        if not pid_alive(pid):
            raise EmbeddedServerError(
                f"{what} exited during start-up; end of {log_file}:\n  {log_tail(log_file)}"
            )
        if await probe():
            return
        if time.monotonic() > deadline:
            raise EmbeddedServerError(
                f"{what} not ready after {deadline_s:.0f}s; "
                f"end of {log_file}:\n  {log_tail(log_file)}"
            )
        await asyncio.sleep(interval)


async def await_running(
    probe: Callable[[], Awaitable[bool]], what: str, pid: int, log_file: Path
) -> None:
    """A live server that does not answer yet may still be starting: give it a while."""
    try:
        await wait_until_ready(probe, what=what, pid=pid, log_file=log_file, deadline_s=30.0)
    except EmbeddedServerError as exc:
        raise EmbeddedServerError(
            f"{what} (pid {pid}) runs but does not answer; "
            f"stop it with `impactline dev down` and start again. {exc}"
        ) from exc


class FileLock:
    """An exclusive lock between processes, so two callers never start the same server twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @contextlib.asynccontextmanager
    async def held_async(self) -> AsyncIterator[None]:
        await asyncio.to_thread(self.acquire)
        try:
            yield
        finally:
            self.release()


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even where an event loop exists already.

    A private thread keeps it away from the caller's loop (pytest's, for instance).
    """
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, name="impactline-embedded")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]
