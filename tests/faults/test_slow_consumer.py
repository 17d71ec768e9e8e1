"""A consumer slower than its producer: ingest takes a burst far faster than correlate can
process it. The lag shows in correlate's metrics and grows, correlate's memory stays bounded,
and it keeps working the backlog off. Ingest's metrics count and time the requests."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from impactline.runtime.system import RunningSystem
from tests.faults.conftest import (
    FaultServers,
    Measurements,
    Scale,
    fault_settings,
    running_system,
)
from tests.faults.load import LoadRun
from tests.faults.runs import workload_for
from tests.helpers import wait_for

pytestmark = [pytest.mark.timeout(1800), pytest.mark.faults_full]
GROUP = "slow"
RSS_BOUND_MIB = 400
METRICS_LINE = re.compile(r"metrics on (http://\S+/metrics)")


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, scale: Scale, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("slow")
    async with (
        fault_settings(
            fault_servers, {GROUP: scale.cis}, work, IMPACTLINE_METRICS_PORT="0"
        ) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


async def scrape(url: str, key: str | None = None) -> dict[str, list[tuple[dict[str, str], float]]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(timeout=5.0, headers=headers) as client:
        response = await client.get(url)
        response.raise_for_status()
        text = response.text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def correlate_lag(url: str, system: RunningSystem) -> float:
    """Correlate's backlog of telemetry, as its metrics say."""
    prefix = system.settings.topic_prefix
    samples = (await scrape(url)).get("impactline_consumer_lag", [])
    return sum(
        value
        for labels, value in samples
        if labels["group"] == f"{prefix}impactline-correlate"
        and labels["topic"] == f"{prefix}telemetry"
    )


async def test_lag_grows_in_the_metrics_while_memory_stays_bounded(
    system: RunningSystem, scale: Scale, measurements: Measurements
) -> None:
    child = system.supervisor.children["correlate"]
    assert child.process is not None
    url = await wait_for(
        lambda: (m := METRICS_LINE.search(child.log_path.read_text())) and m.group(1),
        timeout=60,
        message="correlate to log its metrics address",
    )
    workload = workload_for(GROUP, scale.cis, scale.slow_events, batch_size=1000)
    samples: list[tuple[float, float, float]] = []  # (seconds, lag, rss MiB)
    started = time.monotonic()
    run = LoadRun(system.ingest_url, system.api_key, workload).start()

    async def sample() -> None:
        while True:
            samples.append(
                (
                    time.monotonic() - started,
                    await correlate_lag(url, system),
                    rss_mib(child.process.pid),
                )
            )
            await asyncio.sleep(1.0)

    sampler = asyncio.create_task(sample())
    try:
        load = await run.finish()
        posted_s = time.monotonic() - started
        # The backlog must show, then shrink: the consumer is behind and still working.
        await wait_for(
            lambda: samples and samples[-1][1] >= workload.size / 4,
            timeout=60,
            message="the lag to show at least a quarter of the burst",
        )
        peak = max(lag for _, lag, _ in samples)
        await wait_for(
            lambda: samples[-1][1] < peak * 0.8,
            timeout=scale.settle_s,
            message="correlate to work the backlog off",
        )
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    assert len(load.accepted) == workload.size
    max_rss = max(rss for _, _, rss in samples)
    measurements.note(
        "slow consumer",
        events=workload.size,
        posted_seconds=round(posted_s, 1),
        peak_lag=int(peak),
        max_rss_mib=round(max_rss, 1),
        rss_bound_mib=RSS_BOUND_MIB,
        samples=len(samples),
    )
    assert max_rss < RSS_BOUND_MIB, f"correlate grew to {max_rss:.0f} MiB with lag {peak:.0f}"
    system.supervisor.check()

    ingest = await scrape(f"{system.ingest_url}/metrics", system.api_key)
    accepted = sum(
        v
        for labels, v in ingest["impactline_http_requests_total"]
        if labels.get("route") == "/v1/events" and labels.get("status") == "202"
    )
    assert accepted >= sum(len(b) for b in workload.clients)
    timed = [
        v
        for labels, v in ingest["impactline_http_request_duration_seconds_count"]
        if labels.get("route") == "/v1/events"
    ]
    assert sum(timed) >= accepted
