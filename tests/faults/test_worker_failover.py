"""Two correlate and two impact workers share the partitions; one correlate worker is killed
mid-run and not restarted: its partitions move to the other after the session timeout, the
incidents carry on, and nothing is lost or doubled."""

from __future__ import annotations

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
GROUP = "failover"


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, scale: Scale, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("failover")
    async with (
        fault_settings(fault_servers, {GROUP: scale.cis}, work) as settings,
        running_system(settings, work / "logs", workers=2) as running,
    ):
        yield running


async def test_a_killed_worker_hands_its_partitions_over(
    system: RunningSystem, scale: Scale, measurements: Measurements
) -> None:
    assert {"correlate-1", "correlate-2"} <= set(system.supervisor.children)
    workload = workload_for(GROUP, scale.cis, scale.fault_events)

    async def kill_one(run: LoadRun) -> None:
        await processed(system, workload, 0.3, "correlate")
        system.supervisor.kill("correlate-1")

    outcome = await measured_run(
        system,
        workload,
        "one of two correlate workers killed",
        kill_one,
        settle_s=scale.settle_s,
        measurements=measurements,
    )
    await assert_exactly_once(outcome, system)
    assert not system.supervisor.children["correlate-1"].running
    assert system.supervisor.children["correlate-2"].running
