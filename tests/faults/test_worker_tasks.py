"""No background task of a stream worker dies silently, and a worker always stops when told to.

The correlate and impact processes run in this test's event loop against the suite's real
broker and database, so that the test can reach their tasks: the catalog follower and the
consumer-lag watcher are killed in turn; each failure is logged and counted in the metrics and
the task runs again. Then each worker is stopped and must be gone within its stop grace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from impactline.correlate.app import create_process as correlate
from impactline.impact.app import create_process as impact
from impactline.runtime.stream import StreamProcess
from impactline.runtime.stream.worker import STOP_GRACE_S
from impactline.runtime.system import prepare
from tests.faults.conftest import FaultServers, Measurements, fault_settings
from tests.faults.hostile import Row
from tests.helpers import wait_for

pytestmark = pytest.mark.timeout(600)
TASKS = ("catalog", "lag")


@pytest.fixture(scope="module")
async def processes(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, StreamProcess]]:
    work = tmp_path_factory.mktemp("worker-tasks")
    async with fault_settings(fault_servers, {"wtasks": 2}, work) as base:
        settings = base.model_copy(update={"metrics_port": 0})
        await prepare(settings)
        running = {"correlate": correlate(settings), "impact": impact(settings)}
        for process in running.values():
            await process.start()
        try:
            yield running
        finally:
            for process in running.values():
                if not process.should_stop:
                    await process.stop()


def sample(name: str, service: str, task: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service, "task": task})


@pytest.mark.parametrize("service", ["correlate", "impact"])
@pytest.mark.parametrize("task", TASKS)
async def test_a_killed_worker_task_is_logged_counted_and_started_again(
    processes: dict[str, StreamProcess],
    service: str,
    task: str,
    caplog: pytest.LogCaptureFixture,
    measurements: Measurements,
) -> None:
    tasks = processes[service].tasks
    await wait_for(lambda: tasks.status[task].state == "running", timeout=60, message=task)
    failures = sample("impactline_task_failures_total", service, task) or 0.0
    with caplog.at_level(logging.ERROR, logger="impactline.runtime.tasks"):
        tasks.kill(task)
        await wait_for(
            lambda: sample("impactline_task_failures_total", service, task) == failures + 1,
            timeout=30,
            message=f"{service} {task} failure counted",
        )
    assert any(task in r.getMessage() and "is down" in r.getMessage() for r in caplog.records)
    await wait_for(
        lambda: (
            tasks.status[task].state == "running"
            and sample("impactline_task_up", service, task) == 1
        ),
        timeout=60,
        message=f"{service} {task} running again",
    )
    Row(
        "worker tasks",
        "each background task of correlate and impact killed in turn: catalog follower, "
        "consumer-lag watcher",
        "logged (`task ... is down ... starting it again`), `impactline_task_up` 0 and "
        "`impactline_task_failures_total` + 1",
        "the task ran again; 5 failures within 5 minutes stop the process for its supervisor "
        "to restart",
    ).record(measurements)


@pytest.mark.parametrize("service", ["correlate", "impact"])
async def test_a_worker_stops_within_its_grace_when_told_to(
    processes: dict[str, StreamProcess], service: str
) -> None:
    process = processes[service]
    await wait_for(lambda: process.worker.ready.is_set(), timeout=60, message="partitions")
    began = time.monotonic()
    await process.stop()
    assert time.monotonic() - began < STOP_GRACE_S + 5
    assert process.should_stop
