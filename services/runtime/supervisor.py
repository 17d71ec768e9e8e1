"""Start the system's processes as children, watch them, and stop them all cleanly.

Used by `impactline run` and by the end-to-end tests, so both run the system the same way.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

SUPERVISOR_PID = "IMPACTLINE_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


def stop_with_supervisor() -> None:
    """In a child started by a Supervisor: be sent SIGTERM when the supervising process dies,
    however it dies. Without this, a supervisor killed hard (or interrupted twice during its
    own shutdown) leaves its children running, holding their ports and consumer-group seats
    against the next run. Linux only; elsewhere the supervisor's own stop is all there is."""
    parent = os.environ.get(SUPERVISOR_PID)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):  # the supervisor died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Child:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    # Set when the child is stopped on purpose (kill, stop): the watcher leaves it alone.
    expected_exit: bool = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_description(self) -> str:
        code = self.process.returncode if self.process is not None else None
        if code is not None and code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Supervisor:
    """Owns a set of child processes; `stop()` (or leaving the `with` block) ends every one."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir = log_dir
        self.env = {**os.environ, **env, SUPERVISOR_PID: str(os.getpid())}
        self.children: dict[str, Child] = {}
        self.failure: str | None = None  # set when the watcher gave up on a child
        self._lock = threading.RLock()
        self._watcher: threading.Thread | None = None
        self._stopping = threading.Event()
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, *impactline_args: str) -> Child:
        """Run `impactline ARGS...` with this interpreter, logging to `<log_dir>/<name>.log`."""
        child = Child(
            name,
            [sys.executable, "-m", "impactline.cli.main", *impactline_args],
            self.log_dir / f"{name}.log",
        )
        child._log = child.log_path.open("ab")
        # A new session keeps Ctrl-C in the terminal from reaching children before we stop them
        # in order; stop() delivers SIGTERM itself.
        child.process = subprocess.Popen(
            child.args,
            env=self.env,
            stdout=child._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children[name] = child
        return child

    def check(self) -> None:
        """Raise if a child died, with the end of its log. While `watch` runs, only when the
        watcher gave up on one (it restarts the others)."""
        if self.failure is not None:
            raise RuntimeError(self.failure)
        if self._watcher is not None:
            return
        for child in self.children.values():
            if child.process is not None and child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} {child.exit_description()}; "
                    f"last lines of {child.log_path}:\n{child.tail()}"
                )

    def watch(
        self,
        report: Callable[[str], None],
        *,
        restarts: int = 3,
        window_s: float = 300.0,
        every_s: float = 0.5,
    ) -> None:
        """Notice, in a background thread, a child that exits without being asked to: say so
        through `report` (with the end of its log) and start it again, at most `restarts`
        times within `window_s`. Past that every child is stopped and `check` raises."""
        deaths: dict[str, deque[float]] = {}

        def loop() -> None:
            while not self._stopping.wait(every_s):
                with self._lock:
                    if self._stopping.is_set():
                        return
                    for child in list(self.children.values()):
                        if child.running or child.expected_exit or child.process is None:
                            continue
                        if not self._handle_death(child, deaths, report, restarts, window_s):
                            return

        self._watcher = threading.Thread(target=loop, name="supervisor-watch", daemon=True)
        self._watcher.start()

    def _handle_death(
        self,
        child: Child,
        deaths: dict[str, deque[float]],
        report: Callable[[str], None],
        restarts: int,
        window_s: float,
    ) -> bool:
        now = time.monotonic()
        recent = deaths.setdefault(child.name, deque())
        recent.append(now)
        while recent and recent[0] < now - window_s:
            recent.popleft()
        what = (
            f"{child.name} {child.exit_description()}; last lines of {child.log_path}:\n"
            f"{child.tail(15)}"
        )
        log.error("%s", what)
        if len(recent) > restarts:
            self.failure = (
                f"{child.name} died {len(recent)} times within {window_s:.0f} s; stopping "
                f"everything. {what}"
            )
            report(self.failure)
            self._stop_children()
            return False
        report(f"{what}\nstarting {child.name} again ({len(recent)} of {restarts} restarts)")
        self.restart(child.name)
        return True

    def restart(self, name: str) -> Child:
        """Start `name` again with the arguments it had (after a crash or a kill)."""
        with self._lock:
            child = self.children[name]
            if child.running:
                raise RuntimeError(f"{name} is still running")
            if child._log is not None:
                child._log.close()
            return self.start(name, *child.args[3:])

    def kill(self, name: str) -> None:
        """SIGKILL one child, as a crash would (the watcher leaves it to the caller)."""
        with self._lock:
            child = self.children[name]
            child.expected_exit = True
            if child.process is not None:
                child.process.kill()
                child.process.wait()

    def stop(self, timeout_s: float = 20.0) -> None:
        self._stopping.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join()
        with self._lock:
            self._stop_children(timeout_s)

    def _stop_children(self, timeout_s: float = 20.0) -> None:
        for child in self.children.values():
            child.expected_exit = True
        for child in reversed(list(self.children.values())):
            if child.running:
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children.values():
            if child.process is None:
                continue
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            if child._log is not None:
                child._log.close()

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
