"""Nothing dies silently: watched tasks are restarted and then given up on by stopping the
process; the supervisor reports a child that exits, restarts it, and then stops everything."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from impactline.runtime.supervisor import Supervisor
from impactline.runtime.tasks import BackgroundTasks
from tests.helpers import wait_for


async def test_a_failing_task_is_restarted_then_given_up_on() -> None:
    runs = 0
    gave_up = asyncio.Event()

    async def broken() -> None:
        nonlocal runs
        runs += 1
        raise RuntimeError(f"run {runs} failed")

    tasks = BackgroundTasks("unit", max_failures=3, first_delay_s=0.01, on_give_up=gave_up.set)
    tasks.start("broken", broken)
    async with asyncio.timeout(10):
        await gave_up.wait()
    status = tasks.report()["broken"]
    assert runs == 3 and status["state"] == "failed" and status["failures"] == 3
    assert status["last_error"] == "RuntimeError: run 3 failed"
    assert not tasks.healthy
    await tasks.stop()


async def test_a_task_that_ends_or_is_cancelled_unasked_counts_as_a_failure() -> None:
    ended = asyncio.Event()

    async def quits() -> None:
        ended.set()

    tasks = BackgroundTasks("unit", first_delay_s=60, on_give_up=lambda: None)
    tasks.start("quits", quits)
    await wait_for(lambda: tasks.status["quits"].state == "restarting", timeout=5, message="down")
    assert tasks.report()["quits"]["last_error"] == "ended without being asked to"
    await tasks.stop()
    assert tasks.report()["quits"]["state"] == "stopped"


def test_giving_up_stops_the_process_as_sigterm_does(tmp_path: Path) -> None:
    script = tmp_path / "give_up.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from impactline.runtime.tasks import BackgroundTasks

            async def broken():
                raise RuntimeError("always")

            async def main():
                tasks = BackgroundTasks("unit", max_failures=2, first_delay_s=0.01)
                tasks.start("broken", broken)
                await asyncio.sleep(30)

            asyncio.run(main())
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, timeout=60)
    assert done.returncode == -15, done.stderr.decode()
    assert b"stopping the process" in done.stderr


def test_the_supervisor_reports_restarts_and_then_stops_everything(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, {})
    reports: list[str] = []
    first_line = f"quick exited with code 0; last lines of {tmp_path / 'quick.log'}:"
    try:
        supervisor.start("quick", "--help")  # exits at once, as a crashing service would
        supervisor.watch(reports.append, restarts=2, every_s=0.05)
        started = time.monotonic()
        while supervisor.failure is None and time.monotonic() - started < 60:
            time.sleep(0.05)
        assert supervisor.failure is not None
        assert [r.splitlines()[0] for r in reports[:2]] == [first_line] * 2
        assert "starting quick again (1 of 2 restarts)" in reports[0]
        assert "died 3 times" in reports[-1]
        with pytest.raises(RuntimeError, match="died 3 times"):
            supervisor.check()
    finally:
        supervisor.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_children_end_when_their_supervisor_is_killed_hard(tmp_path: Path) -> None:
    # A supervising process killed with SIGKILL cannot stop its children; they must notice
    # on their own, or they keep the ports and consumer-group seats of the next run.
    child_pid = tmp_path / "child.pid"
    parent = tmp_path / "parent.py"
    parent.write_text(
        textwrap.dedent(
            f"""
            import os, subprocess, sys, time
            from impactline.runtime.supervisor import SUPERVISOR_PID
            child = '''
            import os, pathlib, time
            from impactline.runtime.supervisor import stop_with_supervisor
            stop_with_supervisor()
            pathlib.Path({str(child_pid)!r}).write_text(str(os.getpid()))
            time.sleep(120)
            '''
            env = {{**os.environ, SUPERVISOR_PID: str(os.getpid())}}
            subprocess.Popen([sys.executable, "-c", child], env=env, start_new_session=True)
            time.sleep(120)
            """
        )
    )
    supervisor = subprocess.Popen([sys.executable, str(parent)])
    try:
        deadline = time.monotonic() + 30
        while not (child_pid.exists() and child_pid.read_text()):
            assert time.monotonic() < deadline, "the child did not start"
            time.sleep(0.05)
        pid = int(child_pid.read_text())
        supervisor.kill()
        supervisor.wait(10)
        deadline = time.monotonic() + 10
        while _alive(pid):
            assert time.monotonic() < deadline, "the child outlived its supervisor"
            time.sleep(0.05)
    finally:
        supervisor.kill()


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie waiting for init to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
