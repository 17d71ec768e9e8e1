"""Long-running tasks of an HTTP process (read models, consumers, feeders), none dying silently.

Each task runs under a watcher. When it fails, or ends or is cancelled without being asked to,
the watcher logs it with the error, counts it in `impactline_task_failures_total`, marks it down
in `impactline_task_up` and in the process's `/readyz`, and starts it again after a growing
pause. A task that fails `max_failures` times within `window_s` is given up on: the process is
asked to stop (SIGTERM to itself), so that whatever runs it (`impactline run`, Kubernetes,
systemd) starts a fresh one instead of keeping a process that only looks alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge

from impactline.runtime.problems import Problem

log = logging.getLogger(__name__)

TASK_UP = Gauge(
    "impactline_task_up",
    "1 while a long-running task of the process runs, 0 while it is down or given up on.",
    ["service", "task"],
)
TASK_FAILURES = Counter(
    "impactline_task_failures_total",
    "Failures of long-running tasks (errors, unexpected ends, cancellations).",
    ["service", "task"],
)

Body = Callable[[], Awaitable[None]]


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `event` is set or `timeout_s` passed; whether it was set.

    The loops of long-running tasks wait this way between rounds. `asyncio.wait_for` must not
    be used for it on Python 3.11: a cancellation that lands in the same loop iteration as the
    event is set is swallowed (CPython issue 86296, fixed in 3.12), the loop goes round again,
    and the task never stops. `asyncio.timeout` tells its own cancellation from the caller's.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await event.wait()
    return event.is_set()


def stop_this_process() -> None:
    """What a process does when a task cannot be kept running: stop the way SIGTERM stops it."""
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class TaskStatus:
    name: str
    state: str = "starting"  # running, restarting, failed (given up), stopped
    failures: int = 0
    last_error: str | None = None
    _recent: deque[float] = field(default_factory=deque, repr=False)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"state": self.state, "failures": self.failures}
        if self.last_error is not None:
            out["last_error"] = self.last_error
        return out


class BackgroundTasks:
    """The watched tasks of one process (`service` names it in metrics and logs)."""

    def __init__(
        self,
        service: str,
        *,
        max_failures: int = 5,
        window_s: float = 300.0,
        first_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        on_give_up: Callable[[], None] = stop_this_process,
    ) -> None:
        self.service = service
        self.max_failures = max_failures
        self.window_s = window_s
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.on_give_up = on_give_up
        self.status: dict[str, TaskStatus] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._current: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    def start(self, name: str, body: Body) -> None:
        """Run `body()` as the task `name`, again after each failure. `body` must be safe to
        call again: it resumes from durable state (committed offsets), not from where it was."""
        if name in self._watchers:
            raise ValueError(f"a task named {name!r} runs already")
        self.status[name] = TaskStatus(name)
        TASK_UP.labels(self.service, name).set(0)
        self._watchers[name] = asyncio.create_task(self._watch(name, body), name=f"watch-{name}")

    @property
    def healthy(self) -> bool:
        return all(s.state == "running" for s in self.status.values())

    def report(self) -> dict[str, dict[str, object]]:
        return {name: status.as_dict() for name, status in sorted(self.status.items())}

    def kill(self, name: str) -> None:
        """Cancel the running body of `name` as a crash would end it (fault tests)."""
        task = self._current.get(name)
        if task is not None:
            task.cancel()

    async def stop(self) -> None:
        self._stopping = True
        watchers = list(self._watchers.values())
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for status in self.status.values():
            status.state = "stopped"
            TASK_UP.labels(self.service, status.name).set(0)

    async def _watch(self, name: str, body: Body) -> None:
        status = self.status[name]
        delay = self.first_delay_s
        while True:
            began = time.monotonic()
            task = asyncio.create_task(body(), name=name)
            self._current[name] = task
            status.state = "running"
            TASK_UP.labels(self.service, name).set(1)
            try:
                await asyncio.shield(task)
                error = "ended without being asked to"
            except asyncio.CancelledError:
                if self._stopping or not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
                    raise
                error = "cancelled without being asked to"
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.error("%s: task %s failed", self.service, name, exc_info=exc)
            if self._stopping:
                return
            TASK_UP.labels(self.service, name).set(0)
            TASK_FAILURES.labels(self.service, name).inc()
            status.failures += 1
            status.last_error = error[:500]
            now = time.monotonic()
            if now - began > self.max_delay_s:
                delay = self.first_delay_s  # it ran well for a while: start the pauses afresh
            status._recent.append(now)
            while status._recent and status._recent[0] < now - self.window_s:
                status._recent.popleft()
            if len(status._recent) >= self.max_failures:
                status.state = "failed"
                log.critical(
                    "%s: task %s failed %d times within %.0f s (last: %s); stopping the process "
                    "so that it is started afresh",
                    self.service,
                    name,
                    len(status._recent),
                    self.window_s,
                    error,
                )
                self.on_give_up()
                return
            status.state = "restarting"
            log.error(
                "%s: task %s is down (%s); starting it again in %.1f s (failure %d of %d "
                "allowed within %.0f s)",
                self.service,
                name,
                error,
                delay,
                len(status._recent),
                self.max_failures,
                self.window_s,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay_s)


def tasks_ready(request_state: object) -> dict[str, dict[str, object]]:
    """The `/readyz` check every HTTP process shares: the report of its background tasks, or a
    503 problem naming the ones that are down (a process whose projection died is not ready)."""
    tasks: BackgroundTasks | None = getattr(request_state, "tasks", None)
    if tasks is None:
        return {}
    report = tasks.report()
    if not tasks.healthy:
        down = ", ".join(n for n, s in report.items() if s["state"] != "running")
        raise Problem(
            503,
            "Not ready",
            f"background tasks not running: {down}",
            headers={"Retry-After": "5"},
            tasks=report,
        )
    return report
