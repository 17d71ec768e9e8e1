"""The broker stops mid-run and comes back: ingest answers 503 with Retry-After meanwhile,
nothing acknowledged is lost, and every process resumes on its own."""

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
from tests.faults.runs import assert_exactly_once, measured_run, workload_for
from tests.helpers import wait_for

pytestmark = [pytest.mark.timeout(1800), pytest.mark.faults_full]
GROUP = "broker"


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, scale: Scale, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    if not fault_servers.broker_restartable:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS names a broker this suite cannot stop")
    work = tmp_path_factory.mktemp("broker")
    async with (
        fault_settings(fault_servers, {GROUP: scale.cis}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


async def test_a_broker_outage_loses_nothing_acknowledged(
    system: RunningSystem,
    fault_servers: FaultServers,
    scale: Scale,
    measurements: Measurements,
) -> None:
    workload = workload_for(GROUP, scale.cis, scale.fault_events, batch_size=100)
    down: dict[str, float] = {}

    async def outage(run: LoadRun) -> None:
        await run.reached(0.25)
        await fault_servers.stop_broker()
        down["at"] = time.monotonic()
        # Clients keep posting meanwhile; ingest must tell them to come back later.
        await wait_for(
            lambda: run.report.refusals["503"] > 0,
            timeout=scale.outage_s + 30,
            message="a 503 answer while the broker is down",
        )
        await asyncio.sleep(max(0.0, scale.outage_s - (time.monotonic() - down["at"])))
        await fault_servers.start_broker()
        down["seconds"] = time.monotonic() - down["at"]

    # Paced so that posting takes about three outages: clients keep posting while it is away.
    batches = max(len(b) for b in workload.clients)
    pause = scale.outage_s * 3 / batches
    outcome = await measured_run(
        system,
        workload,
        f"broker stopped {scale.outage_s:g}s",
        outage,
        settle_s=scale.settle_s,
        measurements=measurements,
        pause_s=pause,
        give_up_after_s=scale.outage_s + 240,
    )
    assert outcome.load.retry_after, "503 answers came without Retry-After"
    assert all(v.isdigit() and int(v) > 0 for v in outcome.load.retry_after)
    assert down["seconds"] >= scale.outage_s
    await assert_exactly_once(outcome, system)
    system.supervisor.check()  # every process rode the outage out without a restart
