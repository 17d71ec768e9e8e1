"""Start the system's processes as children, watch them, and stop them all cleanly.

Used by `impactline run` and by the end-to-end tests, so both run the system the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class Child:
    name: str
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

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
        self.env = {**os.environ, **env}
        self.children: dict[str, Child] = {}
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
        """Raise if a child died, with the end of its log."""
        for child in self.children.values():
            if child.process is not None and child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; "
                    f"last lines of {child.log_path}:\n{child.tail()}"
                )

    def restart(self, name: str) -> Child:
        """Start `name` again with the arguments it had (after a crash or a kill)."""
        child = self.children[name]
        if child.running:
            raise RuntimeError(f"{name} is still running")
        if child._log is not None:
            child._log.close()
        return self.start(name, *child.args[3:])

    def kill(self, name: str) -> None:
        """SIGKILL one child, as a crash would."""
        child = self.children[name]
        if child.process is not None:
            child.process.kill()
            child.process.wait()

    def stop(self, timeout_s: float = 20.0) -> None:
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
