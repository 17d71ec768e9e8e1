"""Schemathesis over both OpenAPI documents of the running system (bounded in examples and
time): no request may be answered with a 5xx. The counts come from the services' own request
metrics, so they are what the servers saw, whatever the fuzzer reports."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from impactline.runtime.system import RunningSystem
from tests.faults.conftest import FaultServers, Measurements, Scale, fault_settings, running_system
from tests.faults.hostile import Row

GROUP = "fuzz"
# The fuzzer sends as fast as it can and without keys at times: limits that would only slow
# it down are lifted for this system.
FUZZ_ENVIRONMENT = {
    "IMPACTLINE_HTTP_RATE_PER_S": "100000",
    "IMPACTLINE_HTTP_BURST": "100000",
    "IMPACTLINE_HTTP_AUTH_FAILURES_PER_MIN": "100000",
}
EXAMPLES = {"full": 25, "quick": 5}
SECONDS = {"full": 420, "quick": 90}  # time budget of each document's run
pytestmark = [pytest.mark.faults_full, pytest.mark.timeout(3600)]


@pytest.fixture(scope="module")
def fuzz_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in FUZZ_ENVIRONMENT}
    os.environ.update(FUZZ_ENVIRONMENT)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, fuzz_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("fuzz")
    async with (
        fault_settings(fault_servers, {GROUP: 4}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


async def requests_by_status(base_url: str, key: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {key}"})).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "impactline_http_requests_total":
                status = sample.labels["status"]
                counts[status] = counts.get(status, 0.0) + sample.value
    return counts


async def fuzz(
    base_url: str, key: str, examples: int, seconds: int, report: Path
) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(examples),
        "--max-time",
        str(seconds),
        # Boundary and negative values of every parameter, then random ones.
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "20",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--exclude-path",
        "/v1/stream",
        "--header",
        f"Authorization: Bearer {key}",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=report.parent,  # its cache of crashes goes there, not into the repository
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


async def test_fuzzing_both_openapi_documents_gets_no_server_error(
    system: RunningSystem,
    scale: Scale,
    measurements: Measurements,
    tmp_path: Path,
) -> None:
    seen: dict[str, tuple[int, int]] = {}
    for name, url in (("ingest", system.ingest_url), ("api", system.api_url)):
        before = await requests_by_status(url, system.api_key)
        code, output = await fuzz(
            url, system.api_key, EXAMPLES[scale.name], SECONDS[scale.name], tmp_path / name
        )
        after = await requests_by_status(url, system.api_key)
        delta = {s: after.get(s, 0) - before.get(s, 0) for s in after}
        total = int(sum(delta.values())) - 1  # the scrape itself
        errors = int(sum(v for s, v in delta.items() if s.startswith("5")))
        seen[name] = (total, errors)
        assert errors == 0, f"{name}: {errors} answers 5xx\n{output[-6000:]}"
        assert code == 0, f"{name}: schemathesis failed\n{output[-6000:]}"
        assert total > 100, f"{name}: only {total} requests reached the server"
    for child in system.supervisor.children.values():
        assert child.running, f"{child.name} stopped during fuzzing"
    measurements.note(
        "fuzzing",
        ingest_requests=seen["ingest"][0],
        api_requests=seen["api"][0],
        server_errors=seen["ingest"][1] + seen["api"][1],
        examples=EXAMPLES[scale.name],
    )
    Row(
        "schemathesis",
        f"every operation of both OpenAPI documents, {EXAMPLES[scale.name]} examples each "
        "(schema-conforming and not): "
        f"{seen['ingest'][0]:,} requests to ingest, {seen['api'][0]:,} to the API",
        f"no 5xx ({seen['ingest'][1] + seen['api'][1]} counted by the servers)",
        "every process",
    ).record(measurements)
