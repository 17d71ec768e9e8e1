"""No background task dies silently: each long-running task of ingest and the API (raw input,
both read models, the live stream's feeder, the catalog cache) is killed in turn; its failure
is logged, shown in /readyz and in the metrics, and the task runs again.

The processes run in this test's event loop against the suite's real broker and database, so
that the test can reach their tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import REGISTRY

from impactline.api.app import create_app as create_api
from impactline.ingest.app import create_app as create_ingest
from impactline.runtime.system import prepare
from tests.e2e.conftest import free_port
from tests.faults.conftest import FaultServers, Measurements, fault_settings
from tests.faults.hostile import Row
from tests.helpers import wait_for

KEY = "faults-tasks-key"
TASKS = {
    "ingest": ("raw-input",),
    "api": ("projection-incidents", "projection-service-health", "stream-feeder", "catalog-cache"),
}
pytestmark = pytest.mark.timeout(600)


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), timeout=120, message="start")
        assert not task.done(), "the server stopped while starting"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 60)


@pytest.fixture(scope="module")
async def apps(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, tuple[FastAPI, str]]]:
    work = tmp_path_factory.mktemp("tasks")
    async with fault_settings(fault_servers, {"tasks": 2}, work) as base:
        settings = base.model_copy(update={"api_keys": [f"{KEY}=admin"]})
        await prepare(settings)
        ingest, api = create_ingest(settings), create_api(settings)
        async with serving(ingest) as ingest_url, serving(api) as api_url:
            yield {"ingest": (ingest, ingest_url), "api": (api, api_url)}


def sample(name: str, service: str, task: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service, "task": task})


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        answer = await client.get("/readyz")
    return answer.status_code, answer.json()


@pytest.mark.parametrize(("service", "task"), [(s, t) for s, ts in TASKS.items() for t in ts])
async def test_a_killed_task_is_logged_shown_and_started_again(
    apps: dict[str, tuple[FastAPI, str]],
    service: str,
    task: str,
    caplog: pytest.LogCaptureFixture,
    measurements: Measurements,
) -> None:
    app, url = apps[service]
    tasks = app.state.tasks
    await wait_for(lambda: tasks.status[task].state == "running", timeout=60, message=task)
    failures = sample("impactline_task_failures_total", service, task) or 0.0
    tasks.first_delay_s = 3.0  # long enough to see it down
    with caplog.at_level(logging.ERROR, logger="impactline.runtime.tasks"):
        tasks.kill(task)

        async def reported_down() -> bool:
            status, body = await readiness(url)
            return (
                status == 503 and body.get("tasks", {}).get(task, {}).get("state") == "restarting"
            )

        await wait_for(reported_down, timeout=30, interval=0.1, message=f"{task} down in /readyz")
    assert sample("impactline_task_up", service, task) == 0
    assert sample("impactline_task_failures_total", service, task) == failures + 1
    assert any(task in r.getMessage() and "is down" in r.getMessage() for r in caplog.records)

    async def running_again() -> bool:
        status, body = await readiness(url)
        return status == 200 and body["tasks"][task]["state"] == "running"

    await wait_for(running_again, timeout=60, interval=0.25, message=f"{task} running again")
    assert sample("impactline_task_up", service, task) == 1
    Row(
        "background tasks",
        "each long-running task killed in turn: ingest's raw input; the API's two read models, "
        "live-stream feeder and catalog cache",
        "logged (`task ... is down ... starting it again`), /readyz 503 naming it, "
        "`impactline_task_up` 0 and `impactline_task_failures_total` + 1",
        "the task ran again from its committed offsets; 5 failures within 5 minutes stop the "
        "process for its supervisor to restart",
    ).record(measurements)
