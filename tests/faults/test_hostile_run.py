"""SIGTERM to `impactline run` stops every process it started, as Ctrl-C does: the four
services, and the Kafka broker and PostgreSQL server it started for itself."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impactline.runtime.embedded import EmbeddedKafka, EmbeddedPostgres
from impactline.runtime.settings import Settings
from tests.e2e.conftest import free_port
from tests.faults.conftest import Measurements
from tests.faults.hostile import Row, pid_alive

pytestmark = [pytest.mark.faults_full, pytest.mark.timeout(900)]


def _parents() -> dict[int, int]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            out[int(entry.name)] = int(fields[1])
    return out


def started_by(root: int, markers: list[str]) -> set[int]:
    """`root`'s descendants, and processes naming one of `markers` (servers started detached)
    with theirs."""
    parents = _parents()
    found = {root}
    for pid in parents:
        try:
            cmdline = (Path("/proc") / str(pid) / "cmdline").read_text(errors="replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in markers):
            found.add(pid)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found - {root}


def test_sigterm_to_impactline_run_stops_every_process_it_started(
    tmp_path: Path, measurements: Measurements
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)  # the PostgreSQL service account must reach its data directory
    tmp_path.chmod(0o755)
    # The broker jars of the usual embedded broker, so that nothing is resolved again.
    shared = EmbeddedKafka(Settings())
    private = EmbeddedKafka(Settings(IMPACTLINE_STATE_DIR=str(state)))
    private.libs.parent.mkdir(parents=True, exist_ok=True)
    private.libs.symlink_to(shared.libs, target_is_directory=True)
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    env["IMPACTLINE_STATE_DIR"] = str(state)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "impactline.cli.main", "run", "--ingest-port", str(free_port())],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    processes: set[int] = set()
    try:
        deadline = time.monotonic() + 600
        while b"ready after" not in log.read_bytes():
            assert run.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "impactline run not ready"
            time.sleep(0.5)
        data = EmbeddedPostgres(Settings(IMPACTLINE_STATE_DIR=str(state))).data_dir
        processes = started_by(run.pid, [str(state), str(data)])
        names = {
            (Path("/proc") / str(p) / "cmdline").read_text(errors="replace").replace("\0", " ")
            for p in processes
            if pid_alive(p)
        }
        assert any("kafka" in n for n in names) and any("postgres" in n for n in names), names
        assert sum("impactline.cli.main serve" in n for n in names) == 4, names
        run.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        run.wait(timeout=180)
        while any(pid_alive(p) for p in processes) and time.monotonic() - stopped_at < 120:
            time.sleep(0.5)
        left = [p for p in processes if pid_alive(p)]
        assert not left, f"still running after SIGTERM: {left}"
        seconds = time.monotonic() - stopped_at
        assert b"every process this run started has exited" in log.read_bytes()
    finally:
        if run.poll() is None:  # the test failed before: stop it the way it is meant to stop
            run.send_signal(signal.SIGTERM)
            try:
                run.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(run.pid, signal.SIGKILL)
        for pid in processes:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        pg = EmbeddedPostgres(Settings(IMPACTLINE_STATE_DIR=str(state)))
        pg.stop()
        if pg.data_dir.parent.name.startswith("impactline-pg-"):
            shutil.rmtree(pg.data_dir.parent, ignore_errors=True)
    Row(
        "SIGTERM to impactline run",
        "`kill -TERM` to `impactline run` (its own Kafka and PostgreSQL)",
        f"every one of its {len(processes)} processes (4 services, the broker, the database "
        f"server and its workers) exited within {seconds:.0f} s, as on Ctrl-C",
        "nothing left serving",
    ).record(measurements)
