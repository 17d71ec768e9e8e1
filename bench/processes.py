"""CPU and memory of the processes of a running system, read from /proc (Linux)."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable
from pathlib import Path

from impactline.runtime.embedded import infrastructure_status
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem

TICKS = os.sysconf("SC_CLK_TCK")


def system_pids(system: RunningSystem) -> dict[str, int]:
    """Each running child of the system by name, plus the embedded broker and database."""
    out = {
        name: child.process.pid
        for name, child in system.supervisor.children.items()
        if child.process is not None and child.running
    }
    for server in infrastructure_status(Settings()):
        if server.running and server.pid is not None:
            out[server.name] = server.pid
    return out


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def _stat(pid: str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds_of(pids: Iterable[int]) -> dict[int, float | None]:
    """User + system CPU time each process and every process under it have used so far (None
    for one that is gone), from one reading of /proc.

    Descendants count while they live (PostgreSQL serves each connection from a child process,
    whose time its parent only gains once it has exited and been waited for).
    """
    # Fields after the command: ppid is the 2nd; utime, stime, cutime, cstime the 12th to 15th.
    stats = {
        int(entry): fields
        for entry in os.listdir("/proc")
        if entry.isdigit() and (fields := _stat(entry)) is not None
    }
    children: dict[int, list[int]] = {}
    for pid, fields in stats.items():
        children.setdefault(int(fields[1]), []).append(pid)

    def tree(pid: int) -> float:
        todo, total = [pid], 0
        while todo:
            current = todo.pop()
            total += sum(int(f) for f in stats[current][11:15])
            todo.extend(children.get(current, ()))
        return total / TICKS

    return {pid: tree(pid) if pid in stats else None for pid in pids}


def cpu_seconds(pid: int) -> float | None:
    return cpu_seconds_of([pid])[pid]


class CpuMeter:
    """CPU used by each process (and by this one) between `start` and `stop`, in cores."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._before: dict[str, float | None] = {}
        self._self_before = 0.0
        self._t0 = 0.0
        self.cores: dict[str, float] = {}

    @staticmethod
    def _self_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        seconds = cpu_seconds_of(self.pids.values())
        self._before = {name: seconds[pid] for name, pid in self.pids.items()}
        self._self_before = self._self_cpu()
        self._t0 = time.perf_counter()

    def stop(self) -> dict[str, float]:
        elapsed = max(1e-9, time.perf_counter() - self._t0)
        seconds = cpu_seconds_of(self.pids.values())
        for name, pid in self.pids.items():
            before, after = self._before.get(name), seconds[pid]
            if before is not None and after is not None:
                self.cores[name] = round((after - before) / elapsed, 2)
        self.cores["bench driver"] = round((self._self_cpu() - self._self_before) / elapsed, 2)
        return self.cores
