"""Sampling profiles of running processes with py-spy, summarised per function and package.

py-spy reads a process's stacks from outside, so the services run unmodified; `--nonblocking`
keeps it from pausing them. Only stacks that were running count (idle threads are left out),
so the sample count over rate x duration is the share of one core the process used.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

OWN = "impactline."
ENTRY = "impactline.cli"
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The py-spy executable next to this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """Records each named process for `duration_s` seconds into `<out_dir>/<name>.txt`."""

    def __init__(self, pids: dict[str, int], out_dir: Path, duration_s: float, rate: int = 100):
        self.pids = pids
        self.out_dir = out_dir
        self.duration_s = duration_s
        self.rate = rate
        self._running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed: pip install -e '.[test]'")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self._running[name] = subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(max(1, round(self.duration_s))),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(self.out_dir / f"{name}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )

    async def finish(self) -> dict[str, Any]:
        """Wait for every recording and summarise it; a failed one says why."""
        out: dict[str, Any] = {}
        for name, process in self._running.items():
            _, err = await asyncio.to_thread(process.communicate)
            path = self.out_dir / f"{name}.txt"
            if process.returncode != 0 or not path.exists():
                out[name] = {"error": err.decode(errors="replace").strip()[-500:]}
                continue
            out[name] = summarise(path, self.rate * self.duration_s)
        return out


def _where(file: str) -> str:
    """The package a source file belongs to: `impactline.correlate`, `aiokafka`, `asyncio`."""
    parts = Path(file).parts
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1 :]
        return rest[0].removesuffix(".py") if rest else file
    if "services" in parts:
        rest = parts[parts.index("services") + 1 :]
        return "impactline." + rest[0].removesuffix(".py") if rest else file
    stem = parts[-2] if len(parts) > 1 and parts[-1] == "__init__.py" else parts[-1]
    for lib in ("asyncio", "json", "logging", "email", "http", "concurrent", "importlib"):
        if lib in parts:
            return lib
    return stem.removesuffix(".py")


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = FRAME.match(raw)
        if match is None:
            frames.append((raw, raw))
            continue
        file = match["file"]
        short = "/".join(Path(file).parts[-2:])
        frames.append((f"{match['func']} ({short})", _where(file)))
    return frames


def summarise(path: Path, possible_samples: float, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares of the busiest functions, and self share per package."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if not frames:
            continue
        total += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        # Inclusive time only for our own code below the entry points: that is where a change
        # can be made, and the interpreter's and libraries' outer frames would fill the list.
        for name in {f for f, where in frames if where.startswith(OWN) and where != ENTRY}:
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "cpu_cores": round(total / possible_samples, 2) if possible_samples else None,
        "self_percent": share(own) if total else [],
        "inclusive_percent": share(inclusive) if total else [],
        "package_self_percent": share(packages) if total else [],
    }


def print_profiles(profiles: dict[str, Any], top: int = 8) -> None:
    for name, summary in profiles.items():
        if "error" in summary:
            print(f"   profile {name}: failed: {summary['error']}")
            continue
        print(f"   profile {name}: {summary['cpu_cores']} cores busy, {summary['samples']} samples")
        packages = ", ".join(f"{p} {s}%" for p, s in summary["package_self_percent"][:top])
        print(f"     self time by package: {packages}")
        for func, pct in summary["inclusive_percent"][:top]:
            print(f"     {pct:5.1f}% of samples under {func}")
