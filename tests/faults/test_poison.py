"""Poison and oversized messages on every topic a process reads: each goes to dead-letters with
a reason, no process stops, and valid messages behind them are processed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from aiokafka import TopicPartition

from impactline.core import cloudevents, topics
from impactline.core.contracts import DeadLetter, TelemetryEvent
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import (
    DEAD_LETTER_PAYLOAD_BYTES,
    message_for,
    new_admin,
    new_consumer,
    new_producer,
    partition_ids,
    topic_name,
)
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import TopicTail
from tests.faults.accounting import observe
from tests.faults.conftest import (
    FaultServers,
    Measurements,
    Scale,
    fault_settings,
    running_system,
)
from tests.faults.workload import Expected, Workload, ci_id, service_id
from tests.helpers import wait_for

pytestmark = pytest.mark.timeout(1800)
GROUP = "poison"
OVERSIZED_BYTES = 900 * 1024  # under the broker's 1 MiB limit, far over any contract's

# Every topic a process reads, and the consumer groups (dead-letter sources) that read it.
READERS: dict[topics.Topic, tuple[tuple[str, str], ...]] = {
    topics.TELEMETRY: (("impactline-correlate", "correlate"),),
    topics.CHANGES: (("impactline-correlate", "correlate"),),
    topics.INCIDENT_COMMANDS: (("impactline-correlate", "correlate"),),
    topics.SERVICE_HEALTH: (
        ("impactline-impact", "impact"),
        ("impactline-service-health", "api/service-health"),
    ),
    topics.FEEDBACK: (
        ("impactline-impact", "impact"),
        ("impactline-service-health", "api/service-health"),
    ),
    topics.RAW: (("impactline-ingest-raw", "ingest/raw"),),
    topics.INCIDENTS: (("impactline-incidents", "api/incidents"),),
    topics.CI_ANNOTATIONS: (
        ("impactline-incidents", "api/incidents"),
        ("impactline-service-health", "api/service-health"),
    ),
    topics.IMPACT: (
        ("impactline-incidents", "api/incidents"),
        ("impactline-service-health", "api/service-health"),
    ),
}


@pytest.fixture(scope="module")
async def system(
    fault_servers: FaultServers, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    work = tmp_path_factory.mktemp("poison")
    async with (
        fault_settings(fault_servers, {GROUP: 4}, work) as settings,
        running_system(settings, work / "logs") as running,
    ):
        yield running


def oversized(topic: topics.Topic) -> tuple[bytes, list[tuple[str, bytes]]]:
    """Headers of a well-formed event of `topic`, a value far larger than any contract allows."""
    _, headers = message_for(
        topic, TelemetryEvent(ci_id="x", state="ok", time=SYSTEM.now()), source="faults"
    )
    if topic.contract is not TelemetryEvent:
        headers = [(k, topic.ce_type.encode() if k == "ce_type" else v) for k, v in headers]
    return b'{"id": "' + b"x" * OVERSIZED_BYTES + b'"}', headers


async def inject_poison(system: RunningSystem) -> dict[tuple[str, int, int], topics.Topic]:
    """Garbage on every partition of every read topic, one oversized message on partition 0;
    returns where each landed."""
    settings = system.settings
    producer = new_producer(settings.require_kafka(), "faults-poison")
    await producer.start()
    placed: dict[tuple[str, int, int], topics.Topic] = {}
    try:
        for topic in READERS:
            name = topic_name(topic, settings.topic_prefix)
            for partition in await partition_ids(settings.require_kafka(), name):
                meta = await producer.send_and_wait(
                    name, value=b"\xff\x00 not an event", partition=partition
                )
                placed[(name, partition, meta.offset)] = topic
            value, headers = oversized(topic)
            meta = await producer.send_and_wait(name, value=value, headers=headers, partition=0)
            placed[(name, 0, meta.offset)] = topic
    finally:
        await producer.stop()
    return placed


async def valid_traffic(system: RunningSystem) -> Workload:
    """Valid input on the same topics behind the poison: a CI failure and recovery (telemetry,
    annotations, health, impact, incidents), a change, feedback and a raw event."""
    now = SYSTEM.now()
    ci, service = ci_id(GROUP, 0), service_id(GROUP, 0)
    down = TelemetryEvent(ci_id=ci, state="down", time=now - timedelta(seconds=30))
    up = TelemetryEvent(ci_id=ci, state="ok", time=now - timedelta(seconds=20))
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        for path, body in (
            ("/v1/events", [down.model_dump(mode="json")]),
            ("/v1/changes", {"ci_id": ci, "kind": "deployment", "summary": "after poison"}),
            ("/v1/feedback", {"service_id": service, "csat": 4, "comment": "fine"}),
            ("/v1/events", [up.model_dump(mode="json")]),
        ):
            response = await client.post(path, json=body)
            assert response.status_code == 202, response.text
    producer = new_producer(system.settings.require_kafka(), "faults-raw")
    await producer.start()
    try:
        raw = TelemetryEvent(ci_id=ci_id(GROUP, 1), state="ok", time=now)
        await producer.send_and_wait(
            topic_name(topics.RAW, system.settings.topic_prefix),
            value=raw.model_dump_json().encode(),
            key=raw.ci_id.encode(),
        )
    finally:
        await producer.stop()
    return Workload(
        GROUP,
        [ci],
        [],
        changes={e.id: Expected(ci, service, e.state.value) for e in (down, up)},
        failing_cis={ci},
    )


async def committed_past(
    system: RunningSystem, group: str, ends: dict[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Partitions of `ends` whose committed offset of `group` is still short of the end."""
    admin = new_admin(system.settings.require_kafka(), "faults-poison")
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(system.settings.topic_prefix + group)
    finally:
        await admin.close()
    got = {(tp.topic, tp.partition): meta.offset for tp, meta in committed.items()}
    return {tp: end for tp, end in ends.items() if got.get(tp, -1) < end}


async def end_offsets(system: RunningSystem, names: set[str]) -> dict[tuple[str, int], int]:
    bootstrap = system.settings.require_kafka()
    parts = [TopicPartition(n, p) for n in sorted(names) for p in await partition_ids(bootstrap, n)]
    consumer = new_consumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def test_poison_and_oversized_messages_go_to_dead_letters_and_work_goes_on(
    system: RunningSystem, scale: Scale, measurements: Measurements
) -> None:
    letters = await TopicTail.open(system.settings, topics.DEAD_LETTERS)
    try:
        placed = await inject_poison(system)
        workload = await valid_traffic(system)

        expected = {
            (name, partition, offset, source)
            for (name, partition, offset), topic in placed.items()
            for _, source in READERS[topic]
        }
        found: dict[tuple[str, int, int, str], DeadLetter] = {}

        def dead_lettered(envelope: cloudevents.Envelope) -> bool:
            letter = envelope.event
            assert isinstance(letter, DeadLetter)
            key = (
                letter.original_topic or "",
                letter.original_partition or 0,
                letter.original_offset or 0,
                letter.source,
            )
            if key in expected:
                found[key] = letter
            return found.keys() >= expected

        await letters.wait_for(dead_lettered, timeout_s=scale.settle_s)
    finally:
        await letters.close()
    assert all(letter.reason for letter in found.values())
    assert all(len(letter.payload) <= DEAD_LETTER_PAYLOAD_BYTES for letter in found.values())
    truncated = [letter for letter in found.values() if "truncated" in letter.reason]
    assert len(truncated) == sum(len(READERS[t]) for t in READERS), "each oversized one noted"

    # The valid failure and recovery went all the way through, behind the poison.
    async def reflected() -> bool:
        seen = await observe(system.settings.require_database(), workload)
        return all(
            seen.members[event_id] == 1 and seen.ledger[(event_id, e.service_id)] == 1
            for event_id, e in workload.changes.items()
        )

    await wait_for(reflected, timeout=scale.settle_s, message="valid events processed")

    # Every reading group moved past everything on its topics, poison included.
    by_group: dict[str, set[str]] = defaultdict(set)
    for topic, readers in READERS.items():
        for group, _ in readers:
            by_group[group].add(topic_name(topic, system.settings.topic_prefix))
    for group, names in by_group.items():
        ends = await end_offsets(system, names)
        await wait_for(
            lambda g=group, e=ends: _caught_up(system, g, e),
            timeout=scale.settle_s,
            message=f"{group} past every poison message",
        )
    system.supervisor.check()
    measurements.note("poison", messages=len(placed), topics=len(READERS), dead_letters=len(found))


async def _caught_up(system: RunningSystem, group: str, ends: dict[tuple[str, int], int]) -> bool:
    return not await committed_past(system, group, ends)


async def test_a_bad_catalog_message_is_dead_lettered_and_the_catalog_kept(
    system: RunningSystem, scale: Scale
) -> None:
    """The compacted catalog topic is read whole by every worker (no consumer group): each
    worker reports a bad message once, keeps its catalog, and goes on correlating."""
    name = topic_name(topics.CATALOG, system.settings.topic_prefix)
    letters = await TopicTail.open(system.settings, topics.DEAD_LETTERS)
    producer = new_producer(system.settings.require_kafka(), "faults-catalog")
    await producer.start()
    try:
        # One at a time: of a batch read at once only the newest catalog message counts.
        for value, headers in ((b"\xff\x00 not a catalog", []), oversized(topics.CATALOG)):
            # A compacted topic takes only keyed messages.
            meta = await producer.send_and_wait(name, key=b"catalog", value=value, headers=headers)
            sources: set[str] = set()

            def reported(
                envelope: cloudevents.Envelope, offset: int = meta.offset, seen: set[str] = sources
            ) -> bool:
                letter = envelope.event
                assert isinstance(letter, DeadLetter)
                if letter.original_topic == name and letter.original_offset == offset:
                    assert letter.reason
                    seen.add(letter.source)
                return seen >= {"correlate", "impact"}

            await letters.wait_for(reported, timeout_s=scale.settle_s)
    finally:
        await producer.stop()
        await letters.close()

    down = TelemetryEvent(ci_id=ci_id(GROUP, 2), state="degraded", time=SYSTEM.now())
    async with httpx.AsyncClient(
        base_url=system.ingest_url, headers={"Authorization": f"Bearer {system.api_key}"}
    ) as client:
        response = await client.post("/v1/events", json=[down.model_dump(mode="json")])
        assert response.status_code == 202
    workload = Workload(
        GROUP,
        [down.ci_id],
        [],
        changes={down.id: Expected(down.ci_id, service_id(GROUP, 2), "degraded")},
    )

    async def reflected() -> bool:
        seen = await observe(system.settings.require_database(), workload)
        return seen.members[down.id] == 1 and seen.ledger[(down.id, service_id(GROUP, 2))] == 1

    await wait_for(reflected, timeout=scale.settle_s, message="the CI known after the bad catalog")
    system.supervisor.check()
