"""Hostile input against the running system: each case of the attack session (issue 20) gets a
clear answer, and valid events sent between them go all the way through exactly once.

Every test records its row of the "hostile input" table in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from impactline.core import topics
from impactline.core.contracts import ImpactEvent, Weighting
from impactline.runtime.clock import SYSTEM
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import TopicTail
from tests.faults.accounting import account, wait_until_settled
from tests.faults.conftest import FaultServers, Measurements, Scale, fault_settings, running_system
from tests.faults.hostile import (
    HTTP_ENVIRONMENT,
    Probe,
    Row,
    client,
    dead_letter_for,
    encoded,
    pointers,
    produce,
    rss_mib,
    timed,
)
from tests.faults.load import LoadReport
from tests.faults.workload import ci_id, service_id
from tests.helpers import wait_for

GROUP = "hostile"
CIS = 4
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def http_environment() -> Iterator[None]:
    """Short HTTP limits for the processes this module starts (they inherit the environment)."""
    saved = {k: os.environ.get(k) for k in HTTP_ENVIRONMENT}
    os.environ.update(HTTP_ENVIRONMENT)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, http_environment: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("hostile")
    async with (
        fault_settings(fault_servers, {GROUP: CIS}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


@pytest.fixture(scope="module")
def probe() -> Probe:
    return Probe(GROUP, CIS)


async def test_control_characters_are_refused_and_a_record_the_database_refuses_is_dead_lettered(
    system: RunningSystem, probe: Probe, scale: Scale, measurements: Measurements
) -> None:
    async with client(system.ingest_url, system.api_key) as ingest:
        feedback = await ingest.post(
            "/v1/feedback", json={"id": "x\u0000", "service_id": service_id(GROUP, 0), "csat": 1}
        )
        telemetry = await ingest.post(
            "/v1/events",
            json={"id": "t\u0000", "ci_id": ci_id(GROUP, 0), "state": "down", "summary": "\u0000"},
        )
    assert feedback.status_code == 422, feedback.text
    assert pointers(feedback.json()) == ["/id"] and "U+0000" in feedback.text
    assert telemetry.status_code == 422 and set(pointers(telemetry.json())) == {"/id", "/summary"}
    async with client(system.api_url, system.api_key) as api:
        query = await api.get("/v1/incidents", params={"service": "x\u0000"})
    assert query.status_code == 400 and "U+0000" in query.text

    # Past the edge, the read models' database refuses U+0000: such a record (here produced
    # straight onto impact.all) goes to dead letters and the read models go on.
    now = SYSTEM.now()
    poisoned = ImpactEvent(
        id="hostile-nul-impact",
        service_id=service_id(GROUP, 1),
        service_name="Fault \u0000",
        business_domain="faults",
        correlation_domain="dom",
        state="down",
        time=now,
        cause_ci_id=ci_id(GROUP, 1),
        cause_event_id="hostile-nul-cause",
        incident_id="hostile-nul-incident",
        users_affected=1,
        tier=3,
        weighting=Weighting.UNWEIGHTED,
        impact_rate=1.0,
        business_impact_minutes=0.0,
        catalog_version=1,
    )
    letters = await TopicTail.open(system.settings, topics.DEAD_LETTERS)
    try:
        where = await produce(system, topics.IMPACT, *encoded(topics.IMPACT, poisoned))
        letter = await dead_letter_for(letters, where, "api/", timeout_s=scale.settle_s)
    finally:
        await letters.close()
    assert "refused" in letter.reason and "hostile-nul-impact" in letter.payload
    after = await probe.send(system)
    await probe.through(system, after, timeout_s=scale.settle_s)
    async with client(system.api_url) as api:
        ready = (await api.get("/readyz")).json()
    assert ready["status"] == "ready"
    assert all(t["failures"] == 0 for t in ready["tasks"].values()), ready["tasks"]
    Row(
        "control characters",
        "U+0000 in a feedback id and a telemetry id and summary; `%00` in a query; "
        "a record with U+0000 put straight on impact.all",
        f"422 naming `/id` and `/summary`; 400; a dead letter from `{letter.source}` with the "
        "database's reason",
        "both read models (the next event reached the timeline and the ledger), /readyz 200",
    ).record(measurements)


async def test_event_times_outside_the_window_are_refused_at_ingest(
    system: RunningSystem, probe: Probe, scale: Scale, measurements: Measurements
) -> None:
    body = {"ci_id": ci_id(GROUP, 2), "state": "down", "time": "9999-12-31T23:59:59Z"}
    async with client(system.ingest_url, system.api_key) as ingest:
        far = await ingest.post("/v1/events", json=body)
        old = await ingest.post("/v1/events", json={**body, "time": "1970-01-01T00:00:00Z"})
    assert far.status_code == 422 and pointers(far.json()) == ["/time"]
    assert "IMPACTLINE_EVENT_MAX_AHEAD" in far.text
    assert old.status_code == 422 and "IMPACTLINE_EVENT_MAX_AGE" in old.text
    letters = await TopicTail.open(system.settings, topics.DEAD_LETTERS)
    try:
        where = await produce(system, topics.RAW, orjson_bytes(body), [])
        letter = await dead_letter_for(letters, where, "ingest/raw", timeout_s=scale.settle_s)
    finally:
        await letters.close()
    assert "/time" in letter.reason
    after = await probe.send(system)
    await probe.through(system, after, timeout_s=scale.settle_s)
    Row(
        "event time in year 9999",
        "`time: 9999-12-31T23:59:59Z` (and 1970) over HTTP and on the raw topic",
        "422 naming `/time` and the window (400 days back, 1 hour ahead by default); "
        "a dead letter from `ingest/raw`",
        "impact: the next event was impacted at once",
    ).record(measurements)


def orjson_bytes(value: object) -> bytes:
    import orjson

    return orjson.dumps(value)


async def test_a_huge_request_is_refused_quickly_and_answers_say_what_was_accepted(
    system: RunningSystem, probe: Probe, scale: Scale, measurements: Measurements
) -> None:
    flood = b"[" + b",".join([b"{}"] * 300_000) + b"]"  # 900 KB: under the body limit
    valid = probe.next_event()
    mixed = [valid.model_dump(mode="json"), *({"ci_id": "x y"} for _ in range(9_999))]
    async with client(system.ingest_url, system.api_key) as ingest:

        async def health_during() -> float:
            await asyncio.sleep(0.05)
            _, seconds = await timed(lambda: ingest.get("/healthz"))
            return seconds

        (refused, refused_s), _ = await asyncio.gather(
            timed(lambda: ingest.post("/v1/events", content=flood, headers=JSON)), health_during()
        )
        (answer, answer_s), health_s = await asyncio.gather(
            timed(lambda: ingest.post("/v1/events", json=mixed)), health_during()
        )
    assert refused.status_code == 413 and refused.json()["count"] == 300_000, refused.text
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 1 and body["ids"] == [valid.id]
    assert body["rejected_count"] == 9_999 and len(body["rejected"]) == 100
    assert len(answer.content) < 64 * 1024
    assert health_s < 2.0, f"/healthz took {health_s:.1f} s during the large request"
    probe.accepted(valid)
    await probe.through(system, valid, timeout_s=scale.settle_s)
    Row(
        "one huge request",
        "300,000 items in 900 KB; one valid event with 9,999 invalid ones",
        f"413 `too-many-items` in {refused_s:.2f} s; 202 in {answer_s:.1f} s: accepted 1, "
        f"its id, 100 of 9,999 rejections listed ({len(answer.content):,} bytes)",
        f"/healthz answered in {health_s:.2f} s meanwhile; the valid event went through once",
    ).record(measurements)


JSON = {"Content-Type": "application/json"}


async def test_remembered_answers_stay_bounded(
    system: RunningSystem, measurements: Measurements
) -> None:
    pid = system.supervisor.children["ingest"].process.pid  # type: ignore[union-attr]
    invalid = [{"ci_id": "x y"} for _ in range(9_999)]
    before = rss_mib(pid)
    sizes = []
    async with client(system.ingest_url, system.api_key) as ingest:
        for n in range(20):
            answer = await ingest.post(
                "/v1/events", json=invalid, headers={"Idempotency-Key": f"hostile-{n}"}
            )
            assert answer.status_code == 422
            sizes.append(len(answer.content))
    grown = rss_mib(pid) - before
    assert max(sizes) < 64 * 1024 and grown < 100, (sizes, grown)
    Row(
        "idempotency keys",
        "20 requests of 9,999 invalid items, each with a fresh Idempotency-Key",
        f"422 listing 100 errors and the count ({max(sizes):,} bytes each)",
        f"ingest grew {max(grown, 0):.0f} MiB; remembered answers are bounded by bytes (64 MiB)",
    ).record(measurements)


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def bomb() -> bytes:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdef", "bcdefg", strict=True):
        lines.append(f"{name}: &{name} [{','.join(['*' + previous] * 10)}]")
    return "\n".join(lines).encode()


async def test_deep_and_exploding_yaml_is_refused_and_a_dead_process_is_noticed(
    system: RunningSystem, measurements: Measurements
) -> None:
    api_child = system.supervisor.children["api"]
    headers = {"Content-Type": "application/yaml"}
    async with client(system.api_url, system.api_key) as api:
        nested = await api.put("/v1/catalog", content=deep(100_000), headers=headers)
        exploding = await api.put("/v1/catalog", content=bomb(), headers=headers)
        assert (await api.get("/healthz")).status_code == 200
    assert nested.status_code == 422 and "nested deeper" in nested.text, nested.text
    assert exploding.status_code == 422 and "aliases expand" in exploding.text
    assert api_child.running, "the API must survive both"

    # Had it died anyway: the supervisor notices, says so and starts it again.
    reports: list[str] = []
    system.supervisor.watch(reports.append, every_s=0.2)
    os.kill(api_child.process.pid, signal.SIGSEGV)  # type: ignore[union-attr]
    await wait_for(lambda: reports, timeout=30, message="the supervisor to report the crash")
    assert "api was killed by SIGSEGV" in reports[0] and "starting api again" in reports[0]

    async def api_back() -> bool:
        try:
            async with client(system.api_url) as api:
                return (await api.get("/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await wait_for(api_back, timeout=120, interval=0.5, message="the restarted API")
    Row(
        "YAML catalogs",
        "`PUT /v1/catalog` (YAML) of 100,000 nested `[`; a 21-line alias bomb (10^7 leaves); "
        "SIGSEGV to the API",
        "422 `yaml-limits` for both (64 levels, 100,000 alias nodes at most); the supervisor "
        "reported `api was killed by SIGSEGV` with its log and started it again",
        "the API process (no crash, no growth); after the SIGSEGV the API was ready again",
    ).record(measurements)


async def test_a_catalog_that_removes_every_service_needs_force(
    system: RunningSystem, measurements: Measurements
) -> None:
    async with client(system.api_url, system.api_key) as api:
        before = (await api.get("/v1/catalog", params={"documents": "false"})).json()
        unnamed = await api.put("/v1/catalog", json={"documents": {"": None}})
        emptied = await api.put("/v1/catalog", json={"documents": {"empty.yaml": {}}})
        preview = await api.post("/v1/catalog/preview", json={"documents": {"empty.yaml": {}}})
        after = (await api.get("/v1/catalog", params={"documents": "false"})).json()
    assert unnamed.status_code == 422
    assert emptied.status_code == 409, emptied.text
    removed = emptied.json()["changes"]["removed_services"]
    assert removed == before["services"] > 0
    assert preview.status_code == 200 and preview.json()["changes"]["services_after"] == 0
    assert after["version"] == before["version"]
    Row(
        "empty catalog",
        '`PUT /v1/catalog {"documents":{"":null}}`; a catalog with no services',
        f"422 (document name); 409 `catalog-emptied` listing the {removed} services it would "
        "remove (`force=true` to proceed); `POST /v1/catalog/preview` shows the removals",
        f"catalog version {before['version']} stayed current",
    ).record(measurements)


async def test_query_bounds_and_strict_types(
    system: RunningSystem, measurements: Measurements
) -> None:
    async with client(system.api_url, system.api_key) as api:
        huge = await api.get("/v1/incidents", params={"offset": "9223372036854775808"})
        epoch = await api.get("/v1/incidents", params={"since": "1700000000"})
    assert huge.status_code == 422 and epoch.status_code == 422
    base = {"service_id": service_id(GROUP, 0), "time": SYSTEM.now().isoformat()}
    async with client(system.ingest_url, system.api_key) as ingest:
        answers = {
            name: await ingest.post("/v1/feedback", json={**base, **change})
            for name, change in {
                "boolean": {"csat": True},
                "numeric string": {"csat": "3"},
                "epoch": {"csat": 3, "time": 1_700_000_000},
                "date only": {"csat": 3, "time": "2026-11-30"},
            }.items()
        }
    refused = {name: a.status_code for name, a in answers.items()}
    assert refused == dict.fromkeys(answers, 422), refused
    assert pointers(answers["epoch"].json()) == ["/time"]
    Row(
        "bounds and strict types",
        '`offset=9223372036854775808`; `since=1700000000`; `csat: true`, `csat: "3"`, '
        '`time: 1700000000`, `time: "2026-11-30"`',
        "422 naming the parameter or field each time",
        "everything (no 500)",
    ).record(measurements)


async def test_slow_clients_revoked_streams_and_key_guessing_are_cut_off(
    system: RunningSystem, measurements: Measurements
) -> None:
    from tests.faults.hostile_http import (
        guessing_is_limited,
        metrics_need_a_key,
        slow_clients_are_dropped,
        stream_ends_on_revoke,
    )

    slow = await slow_clients_are_dropped(system)
    revoked_s = await stream_ends_on_revoke(system)
    limited = await guessing_is_limited(system)
    await metrics_need_a_key(system)
    Row(
        "slow clients, revoked keys, guessing",
        "50 connections sending headers one byte a second; a body that stops; a live stream "
        "whose key is revoked; 60 unknown keys; 150 reads at once; `/metrics` without a key",
        f"connections closed after the header timeout ({slow['headers_s']:.1f} s with it set "
        "to 2 s; 10 s by default); 408 after the body timeout; the stream ended with `revoked` "
        f"{revoked_s:.1f} s after the revocation (key cache 5 s); "
        f"{limited['guesses_refused']} guesses refused with 429 without a lookup; "
        f"{limited['reads_limited']} reads 429 with Retry-After; 401",
        "requests with a valid key from the same address throughout",
    ).record(measurements)


async def test_valid_events_between_hostile_requests_lose_and_double_nothing(
    system: RunningSystem, probe: Probe, scale: Scale, measurements: Measurements
) -> None:
    """Run last: every valid event the probe sent between the hostile requests is in the
    incident timeline and the impact ledger exactly once."""
    for _ in range(2 * CIS):
        await probe.send(system)
    workload = probe.workload()
    seen = await wait_until_settled(
        system.settings.require_database(), workload, timeout_s=scale.settle_s
    )
    load = LoadReport(sent=len(probe.sent), accepted={e.id for e in probe.sent})
    fault = "hostile input (the cases below, valid events between them)"
    figures = account(fault, workload, load, seen, 0)
    measurements.record(figures)
    assert (figures.lost, figures.duplicated, figures.unexpected) == (0, 0, 0), figures
