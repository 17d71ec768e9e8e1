"""Scale-out on one machine: two workers per stream service share the partitions of one
consumer group, every event is handled once, and a killed worker's partitions are taken over."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from impactline.core import cloudevents, topics
from impactline.core.catalog import load_catalog
from impactline.runtime.kafka import delete_topics, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.stream.batches import partition_of
from impactline.runtime.system import RunningSystem, start_system, worker_names
from tests.e2e.conftest import CONFIG, TopicTail, free_port

WORKERS = 2
PARTITIONS = 4
BATCH = 24  # CIs per batch, each in a correlation domain of its own


def write_catalog(path: Path, count: int) -> None:
    """`count` independent services, each needing one host: every CI is its own domain, so
    events spread over every partition of both correlate stages."""
    lines = ["version: 1", "services:"]
    for n in range(count):
        lines.append(
            f"  - {{id: scale-svc-{n:02d}, name: Scale {n}, owner: Scale, tier: 3, users: 10,"
            f" domain: scale, dependencies: [{{to: scale-ci-{n:02d}}}]}}"
        )
    lines.append("cis:")
    lines += [f"  - {{id: scale-ci-{n:02d}, type: host, owner: Scale}}" for n in range(count)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def scale_settings(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    catalog = tmp_path_factory.mktemp("catalog") / "scale.yaml"
    write_catalog(catalog, 2 * BATCH)
    return Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        IMPACTLINE_TOPIC_PREFIX=f"scale-{uuid.uuid4().hex[:8]}.",
        IMPACTLINE_PARTITIONS=str(PARTITIONS),
        IMPACTLINE_CATALOG=str(catalog),
        IMPACTLINE_CORRELATION_CONFIG=str(CONFIG / "correlation.yaml"),
        IMPACTLINE_STATE_DIR=str(tmp_path_factory.mktemp("state")),
    )


@pytest.fixture(scope="module")
async def scaled(
    scale_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    running = await start_system(
        scale_settings,
        ingest_port=free_port(),
        api_port=free_port(),
        log_dir=tmp_path_factory.mktemp("logs"),
        workers=WORKERS,
    )
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)
        await delete_topics(scale_settings.require_kafka(), scale_settings.topic_prefix)


async def telemetry_assignment(settings: Settings) -> dict[str, set[int]]:
    """Partitions of the telemetry topic held by each member of correlate's consumer group."""
    group = f"{settings.topic_prefix}impactline-correlate"
    telemetry = topic_name(topics.TELEMETRY, settings.topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    (described,) = response.to_object()["groups"]
    if described["state"] != "Stable":
        return {}
    held: dict[str, set[int]] = {}
    for member in described["members"]:
        raw = member["member_assignment"]
        decoded = ConsumerProtocolMemberAssignment.decode(raw) if raw else None
        held[member["member_id"]] = {
            tp.partition
            for tp in (decoded.partitions() if decoded else [])
            if tp.topic == telemetry
        }
    return held


async def wait_for_split(settings: Settings, members: int, timeout_s: float) -> list[set[int]]:
    """The telemetry partitions per member once the group is stable with `members` members
    that each hold some."""
    deadline = time.monotonic() + timeout_s
    held: dict[str, set[int]] = {}
    while time.monotonic() < deadline:
        held = await telemetry_assignment(settings)
        if len(held) == members and all(held.values()):
            return sorted(held.values(), key=min)
        await asyncio.sleep(0.5)
    raise TimeoutError(f"correlate group not split over {members} members: {held}")


async def post_down(system: RunningSystem, cis: list[str]) -> dict[str, str]:
    """One `down` event per CI; returns the event id of each."""
    ids = {ci: f"scale-{uuid.uuid4()}" for ci in cis}
    body = [{"id": ids[ci], "ci_id": ci, "state": "down"} for ci in cis]
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post("/v1/events", json=body)
    assert response.status_code == 202, response.text
    return ids


async def gather_causes(tail: TopicTail, causes: set[str], timeout_s: float) -> None:
    """Read `tail` until an event caused by each of `causes` arrived, then 3 s longer so that
    a duplicate would be seen too. Every record read is kept in `tail.seen`."""
    missing = set(causes) - {e.event.cause_event_id for e, _ in tail.seen}
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    while settle_until is None or time.monotonic() < settle_until:
        if settle_until is None and time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} of {len(causes)} events never handled")
        batches = await tail.consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for msg in records:
                envelope = cloudevents.decode(tail.topic, msg.value, msg.headers)
                tail.seen.append((envelope, envelope.headers))
                missing.discard(envelope.event.cause_event_id)
        if not missing and settle_until is None:
            settle_until = time.monotonic() + 3.0


def counted(tail: TopicTail, causes: set[str]) -> Counter[str]:
    return Counter(e.event.cause_event_id for e, _ in tail.seen if e.event.cause_event_id in causes)


def batch(first: int) -> list[str]:
    return [f"scale-ci-{n:02d}" for n in range(first, first + BATCH)]


async def test_two_workers_split_partitions_and_handle_each_event_once(
    scaled: RunningSystem,
) -> None:
    settings = scaled.settings
    assert set(scaled.supervisor.children) >= {
        *worker_names("correlate", WORKERS),
        *worker_names("impact", WORKERS),
    }
    split = await wait_for_split(settings, WORKERS, timeout_s=60)
    assert set().union(*split) == set(range(PARTITIONS))
    assert not split[0] & split[1], f"a partition is assigned twice: {split}"

    cis = batch(0)
    graph = load_catalog(settings.catalog_paths).graph
    keys = {graph.domain_of(ci).encode() for ci in cis}  # telemetry is keyed by domain
    assert {partition_of(key, PARTITIONS) for key in keys} == set(range(PARTITIONS))
    annotations = await TopicTail.open(settings, topics.CI_ANNOTATIONS)
    health = await TopicTail.open(settings, topics.SERVICE_HEALTH)
    try:
        ids = await post_down(scaled, cis)
        causes = set(ids.values())
        await gather_causes(annotations, causes, timeout_s=60)
        await gather_causes(health, causes, timeout_s=30)
    finally:
        await annotations.close()
        await health.close()

    assert counted(annotations, causes) == Counter(causes), "an event was annotated twice"
    assert counted(health, causes) == Counter(causes), "a service changed state twice"
    for envelope, _ in health.seen:
        event = envelope.event
        if event.cause_event_id in causes:
            assert event.state.value == "down"
            assert ids[event.cause_ci_id] == event.cause_event_id
            assert event.service_id == event.cause_ci_id.replace("scale-ci", "scale-svc")


async def test_a_killed_workers_partitions_are_taken_over(scaled: RunningSystem) -> None:
    settings = scaled.settings
    await wait_for_split(settings, WORKERS, timeout_s=60)
    killed = worker_names("correlate", WORKERS)[0]
    annotations = await TopicTail.open(settings, topics.CI_ANNOTATIONS)
    try:
        scaled.supervisor.kill(killed)  # SIGKILL, no goodbye
        ids = await post_down(scaled, batch(BATCH))
        causes = set(ids.values())
        (survivor,) = await wait_for_split(settings, 1, timeout_s=45)
        assert survivor == set(range(PARTITIONS))
        # The group notices after the 10 s session timeout, then rebalances; the survivor
        # restores the partitions' state and continues from their committed offsets.
        await gather_causes(annotations, causes, timeout_s=45)
    finally:
        await annotations.close()

    # A replay after the takeover may repeat a message, never invent a second outcome.
    outcomes: dict[str, set[str]] = {}
    for envelope, _ in annotations.seen:
        if envelope.event.cause_event_id in causes:
            outcomes.setdefault(envelope.event.cause_event_id, set()).add(envelope.event.id)
    assert set(outcomes) == causes
    assert all(len(found) == 1 for found in outcomes.values())
