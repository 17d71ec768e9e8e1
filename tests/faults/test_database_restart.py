"""PostgreSQL restarts mid-run: the impact ledger and the API's read models wait it out with
backoff and then catch up, with nothing lost and nothing written twice."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from impactline.runtime.system import RunningSystem
from tests.faults.conftest import (
    FaultServers,
    Measurements,
    Scale,
    fault_settings,
    running_system,
)
from tests.faults.load import LoadRun
from tests.faults.runs import assert_exactly_once, measured_run, processed, workload_for

pytestmark = [pytest.mark.timeout(1800), pytest.mark.faults_full]
GROUP = "database"


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, scale: Scale, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    if not fault_servers.database_restartable:
        pytest.skip("DATABASE_URL names a server this suite cannot restart")
    work = tmp_path_factory.mktemp("database")
    async with (
        fault_settings(fault_servers, {GROUP: scale.cis}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


async def test_a_database_restart_loses_and_doubles_nothing(
    system: RunningSystem,
    fault_servers: FaultServers,
    scale: Scale,
    measurements: Measurements,
) -> None:
    workload = workload_for(GROUP, scale.cis, scale.fault_events)
    outage = scale.outage_s / 2
    down: dict[str, float] = {}

    async def restart(run: LoadRun) -> None:
        await processed(system, workload, 0.3, "impact")
        started = time.monotonic()
        await fault_servers.stop_database()
        await asyncio.sleep(outage)
        await fault_servers.start_database()
        down["seconds"] = time.monotonic() - started

    outcome = await measured_run(
        system,
        workload,
        f"PostgreSQL restarted ({outage:g}s down)",
        restart,
        settle_s=scale.settle_s,
        measurements=measurements,
    )
    assert down["seconds"] >= outage
    await assert_exactly_once(outcome, system)
    system.supervisor.check()  # the workers waited, none gave up
