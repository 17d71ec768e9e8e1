"""`kill -9` of ingest, then correlate, then impact, each in the middle of one run: after each
restart every accepted event shows exactly once in the incident read model and the impact
ledger, and events that repeat a CI's state show nowhere."""

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

GROUP = "kill"
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, scale: Scale, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("kill")
    async with (
        fault_settings(fault_servers, {GROUP: scale.cis}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


async def test_each_service_killed_mid_run_loses_and_doubles_nothing(
    system: RunningSystem, scale: Scale, measurements: Measurements
) -> None:
    workload = workload_for(GROUP, scale.cis, scale.events)
    killed: list[str] = []

    def kill(service: str) -> None:
        system.supervisor.kill(service)  # SIGKILL: no clean shutdown, no last commit
        system.supervisor.restart(service)
        killed.append(service)

    async def kills(run: LoadRun) -> None:
        await run.reached(0.3)  # requests in flight fail; clients retry with the same ids
        kill("ingest")
        await processed(system, workload, 0.35, "correlate")
        kill("correlate")
        await processed(system, workload, 0.6, "impact")
        kill("impact")

    outcome = await measured_run(
        system,
        workload,
        "kill -9 ingest, correlate, impact",
        kills,
        settle_s=scale.settle_s,
        measurements=measurements,
    )
    assert killed == ["ingest", "correlate", "impact"]
    assert outcome.load.refusals, "no client noticed that ingest was killed"
    await assert_exactly_once(outcome, system)
    system.supervisor.check()
