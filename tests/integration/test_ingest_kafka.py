"""Ingest against the real broker and database: every route onto its topic, the raw input with a
poison message, API keys from PostgreSQL, and dead-letter replay."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from impactline.core import cloudevents, topics
from impactline.core.contracts import DeadLetter, TelemetryEvent
from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.dlq import read_letters, replay
from impactline.runtime.kafka import ensure_topics, new_producer, open_tail, publish, topic_name
from impactline.runtime.keys import create_key, revoke_key
from impactline.runtime.settings import Settings
from tests.helpers import scratch_topics

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapters"
STATIC_KEY = "static-admin-key"


class Tail:
    """A topic read from its end when opened; `wait_for` a message matching a predicate."""

    def __init__(self, consumer: AIOKafkaConsumer, topic: topics.Topic) -> None:
        self.consumer = consumer
        self.topic = topic
        self.seen: list[tuple[cloudevents.Envelope, dict[str, str]]] = []

    async def wait_for(
        self, match: Callable[[Any], bool], timeout_s: float = 30.0
    ) -> cloudevents.Envelope:
        for envelope, _ in self.seen:
            if match(envelope.event):
                return envelope
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            batches = await self.consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
            fresh = [
                cloudevents.decode(self.topic, msg.value, msg.headers)
                for records in batches.values()
                for msg in records
            ]
            # Keep the whole batch: a later call may be waiting for another message of it.
            self.seen += [(envelope, envelope.headers) for envelope in fresh]
            for envelope in fresh:
                if match(envelope.event):
                    return envelope
        seen = [e.event for e, _ in self.seen]
        raise AssertionError(f"no matching event on {self.topic.name} within {timeout_s}s: {seen}")


@pytest.fixture(scope="module")
async def settings(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Settings]:
    async with scratch_topics(kafka_bootstrap, f"it-ingest-{uuid.uuid4().hex[:8]}.") as prefix:
        yield Settings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=database_url,
            IMPACTLINE_TOPIC_PREFIX=prefix,
            IMPACTLINE_API_KEYS=f"{STATIC_KEY}=admin",
            IMPACTLINE_PARTITIONS="2",
        )


@pytest.fixture(scope="module")
async def ingest(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, ingest_settings=IngestSettings(key_cache_s=0.5))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client


@pytest.fixture
async def tail(settings: Settings) -> AsyncIterator[Callable[[topics.Topic], Any]]:
    opened: list[Tail] = []

    async def open_(topic: topics.Topic) -> Tail:
        bootstrap = settings.require_kafka()
        await ensure_topics(bootstrap, [topic], prefix=settings.topic_prefix, default_partitions=2)
        consumer = await open_tail(bootstrap, topic_name(topic, settings.topic_prefix))
        opened.append(Tail(consumer, topic))
        return opened[-1]

    yield open_
    for t in opened:
        await t.consumer.stop()


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


AUTH = {"Authorization": f"Bearer {STATIC_KEY}"}
# CIs of the demo catalog ingest binds with: events naming others wait on the unbound topic.
DEMO_CIS = (
    "db-gl-01",
    "app-gl-01",
    "app-gl-02",
    "db-bi-01",
    "sftp-bank-01",
    "db-erp-01",
    "lb-ldn-01",
)


async def test_every_route_publishes_onto_its_topic(
    ingest: httpx.AsyncClient, tail: Callable[[topics.Topic], Any]
) -> None:
    telemetry = await tail(topics.TELEMETRY)
    changes = await tail(topics.CHANGES)
    feedback = await tail(topics.FEEDBACK)
    letters = await tail(topics.DEAD_LETTERS)
    run = uuid.uuid4().hex[:8]

    r = await ingest.post(
        "/v1/events",
        content=f'{{"id": "nd-{run}", "ci_id": "db-gl-01", "state": "down"}}\n{{"bad": 1}}\n',
        headers={**AUTH, "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 202, r.text
    got = await telemetry.wait_for(lambda e: e.id == f"nd-{run}")
    assert got.headers["ce_type"] == topics.TELEMETRY.ce_type
    letter = await letters.wait_for(lambda e: e.source == "ingest/native" and '"bad"' in e.payload)
    assert letter.headers["dl_source"] == "ingest/native"
    assert "/1" in letter.headers["dl_reason"]

    r = await ingest.post(
        "/v1/alertmanager", json=fixture("alertmanager_firing.json"), headers=AUTH
    )
    assert r.status_code == 202, r.text
    await telemetry.wait_for(lambda e: e.id == r.json()["ids"][0] and e.source == "alertmanager")

    structured = {**fixture("cloudevents_structured.json"), "id": f"ce-{run}"}
    r = await ingest.post(
        "/v1/cloudevents",
        content=json.dumps(structured),
        headers={**AUTH, "content-type": "application/cloudevents+json"},
    )
    assert r.status_code == 202, r.text
    await telemetry.wait_for(lambda e: e.id == f"ce-{run}")

    trigger = {**fixture("pagerduty_trigger.json"), "routing_key": STATIC_KEY}
    trigger["dedup_key"] = f"pd-{run}"
    r = await ingest.post("/v2/enqueue", json=trigger)
    assert r.status_code == 202 and r.json()["dedup_key"] == f"pd-{run}"
    await telemetry.wait_for(lambda e: e.attributes.get("pagerduty.dedup_key") == f"pd-{run}")

    change = {**fixture("changes_deployment.json"), "id": f"chg-{run}"}
    r = await ingest.post("/v1/changes", json=change, headers=AUTH)
    assert r.status_code == 202, r.text
    got = await changes.wait_for(lambda e: e.ci_id == "app-gl-02" and e.author == "jane.doe")
    assert got.headers["ce_subject"] == "app-gl-02"

    r = await ingest.post(
        "/v1/feedback", json={"id": f"fb-{run}", "service_id": "payroll", "csat": 1}, headers=AUTH
    )
    assert r.status_code == 202, r.text
    got = await feedback.wait_for(lambda e: e.id == f"fb-{run}")
    assert got.headers["ce_subject"] == "payroll"


async def _produce(settings: Settings, messages: list[tuple[bytes | None, list]]) -> None:
    producer = new_producer(settings.require_kafka(), "it-raw-producer")
    await producer.start()
    try:
        name = topic_name(topics.RAW, settings.topic_prefix)
        for value, headers in messages:
            await producer.send_and_wait(name, value=value, key=b"k", headers=headers)
    finally:
        await producer.stop()


async def test_raw_input_forwards_valid_events_and_dead_letters_poison(
    ingest: httpx.AsyncClient, settings: Settings, tail: Callable[[topics.Topic], Any]
) -> None:
    telemetry = await tail(topics.TELEMETRY)
    changes = await tail(topics.CHANGES)
    letters = await tail(topics.DEAD_LETTERS)
    run = uuid.uuid4().hex[:8]
    binary_headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", f"raw-ce-{run}".encode()),
        ("ce_source", b"urn:test:producer"),
        ("ce_type", topics.CHANGES.ce_type.encode()),
        ("ce_subject", b"app-gl-01"),
        ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("content-type", b"application/json"),
    ]
    await _produce(
        settings,
        [
            (b"\xff\xfe not json at all", [("origin", b"fuzz")]),
            (None, []),
            (b'{"ci_id": "db-gl-01", "state": "molten"}', []),
            (b'{"summary": "deployed"}', [*binary_headers[:3], ("ce_type", b"nope")]),
            (json.dumps({"id": f"raw-{run}", "ci_id": "db-gl-01", "state": "down"}).encode(), []),
            (b'{"kind": "deployment", "summary": "4.2.2"}', binary_headers),
        ],
    )
    got = await telemetry.wait_for(lambda e: e.id == f"raw-{run}")
    assert isinstance(got.event, TelemetryEvent)
    change = await changes.wait_for(lambda e: e.id == f"raw-ce-{run}")
    assert change.event.ci_id == "app-gl-01"
    assert change.headers["traceparent"].split("-")[1] == "4bf92f3577b34da6a3ce929d0e0e4736"

    raw_name = topic_name(topics.RAW, settings.topic_prefix)
    found: list[DeadLetter] = []
    for _ in range(4):
        envelope = await letters.wait_for(
            lambda e: e.source == "ingest/raw" and e not in found and e.original_topic == raw_name
        )
        found.append(envelope.event)
        assert envelope.headers["dl_source"] == "ingest/raw"
        assert envelope.headers["dl_original_topic"] == raw_name
        assert envelope.headers["dl_reason"] == envelope.event.reason[:1000]
    reasons = " | ".join(letter.reason for letter in found)
    assert "not valid JSON" in reasons and "no value" in reasons
    assert "/state" in reasons and "header ce_type" in reasons
    assert all(letter.original_offset is not None for letter in found)
    assert any(letter.original_headers.get("origin") == "fuzz" for letter in found)


async def test_keys_from_the_database_work_until_revoked(
    ingest: httpx.AsyncClient, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        record, key = await create_key(conn, ["ingest"], "integration")
        _, reader = await create_key(conn, ["read"], "integration-reader")
        event = {"ci_id": "db-gl-01", "state": "ok"}
        r = await ingest.post("/v1/events", json=event, headers={"X-API-Key": key})
        assert r.status_code == 202, r.text
        r = await ingest.post("/v1/events", json=event, headers={"X-API-Key": reader})
        assert r.status_code == 403
        assert (await ingest.post("/v1/events", json=event)).status_code == 401

        await revoke_key(conn, record.key_id)
        deadline = time.monotonic() + 10
        while True:  # the lookup cache (0.5 s here) may answer for a moment
            r = await ingest.post("/v1/events", json=event, headers={"X-API-Key": key})
            if r.status_code == 401 or time.monotonic() > deadline:
                break
        assert r.status_code == 401
        assert r.json()["detail"] == "the key is unknown or revoked"
        stored = await conn.fetchval(
            "SELECT count(*) FROM api_keys WHERE key_hash = $1 OR key_hash = $2", key, reader
        )
        assert stored == 0  # only digests are stored, never the key
    finally:
        await conn.close()


async def _read_all(bootstrap: str, name: str, topic: topics.Topic) -> list[Any]:
    """Every event on a topic up to its current end."""
    consumer = AIOKafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=100)  # joins the assignment
        parts = list(consumer.assignment())
        ends = await consumer.end_offsets(parts)
        await consumer.seek_to_beginning(*parts)
        events: list[Any] = []
        deadline = time.monotonic() + 30
        while any([await consumer.position(tp) < ends[tp] for tp in parts]):
            assert time.monotonic() < deadline
            for records in (await consumer.getmany(timeout_ms=500)).values():
                events += [cloudevents.decode(topic, m.value, m.headers).event for m in records]
        return events
    finally:
        await consumer.stop()


async def _cli(settings: Settings, *args: str) -> str:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_kafka(),
        "IMPACTLINE_TOPIC_PREFIX": settings.topic_prefix,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "impactline.cli.main",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


@pytest.fixture
async def dlq_prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    async with scratch_topics(kafka_bootstrap, f"it-dlq-{uuid.uuid4().hex[:8]}.") as prefix:
        yield prefix


async def test_replay_publishes_what_is_valid_once_and_keeps_the_rest(
    kafka_bootstrap: str, dlq_prefix: str
) -> None:
    prefix = dlq_prefix
    settings = Settings(kafka_bootstrap_servers=kafka_bootstrap, IMPACTLINE_TOPIC_PREFIX=prefix)
    wanted = [topics.TELEMETRY, topics.RAW, topics.DEAD_LETTERS]
    await ensure_topics(kafka_bootstrap, wanted, prefix=prefix, default_partitions=2)

    def event(event_id: str) -> str:
        return json.dumps(
            {"id": event_id, "ci_id": "db-gl-01", "state": "degraded", "time": LETTERED.isoformat()}
        )

    LETTERED = datetime(2026, 11, 30, 10, tzinfo=UTC)
    letters = [
        # Rejected over HTTP and still invalid: a CI id may not contain spaces.
        DeadLetter(
            reason="/0/ci_id: bad",
            source="ingest/native",
            payload='{"ci_id": "db gl 01", "state": "down"}',
            original_headers={"http-route": "/v1/events"},
            time=LETTERED,
        ),
        # Letters whose payload is valid now (written by a version with a bug, say).
        DeadLetter(
            reason="x",
            source="ingest/native",
            payload=event("fixed-http"),
            original_headers={"http-route": "/v1/events"},
            time=LETTERED,
        ),
        DeadLetter(
            reason="x",
            source="ingest/raw",
            payload=event("fixed-raw"),
            original_topic=f"{prefix}raw",
            original_partition=0,
            original_offset=7,
            time=LETTERED,
        ),
        DeadLetter(
            reason="x",
            source="correlate",
            payload=event("fixed-other"),
            original_topic=f"{prefix}telemetry",
            original_partition=1,
            original_offset=3,
            time=LETTERED,
        ),
    ]
    producer = new_producer(kafka_bootstrap, "it-dlq")
    await producer.start()
    try:
        for letter in letters:
            await publish(
                producer,
                topics.DEAD_LETTERS,
                letter,
                key=letter.source,
                source="test",
                prefix=prefix,
            )
    finally:
        await producer.stop()

    dry = await replay(kafka_bootstrap, prefix, dry_run=True)
    assert (dry.replayed, dry.events, dry.still_invalid) == (3, 3, 1)
    listed = await _cli(settings, "dlq", "list", "--source", "ingest/native")
    assert "/v1/events" in listed and "2 of 2 letter(s)" in listed

    only_http = await replay(kafka_bootstrap, prefix, source="ingest/native")
    assert (only_http.replayed, only_http.still_invalid) == (1, 1)
    assert "db gl 01" in only_http.reasons[0] or "ci_id" in only_http.reasons[0]
    rest = await _cli(settings, "dlq", "replay")
    assert "replayed 2 letter(s) (2 event(s)); 1 still invalid; 2 replayed before" in rest
    last = await replay(kafka_bootstrap, prefix)
    assert (last.replayed, last.events) == (0, 0)

    published = await _read_all(kafka_bootstrap, f"{prefix}telemetry", topics.TELEMETRY)
    assert sorted(e.id for e in published) == ["fixed-http", "fixed-other", "fixed-raw"]
    stored, _ = await read_letters(kafka_bootstrap, prefix, source="ingest/native")
    kept = [s.letter for s in stored if s.letter.reason.startswith("replay:")]
    assert kept and all("db gl 01" in letter.payload for letter in kept)


async def test_a_batch_larger_than_a_producer_batch_and_one_huge_event_arrive_whole(
    ingest: httpx.AsyncClient, tail: Callable[[topics.Topic], Any]
) -> None:
    telemetry = await tail(topics.TELEMETRY)
    run = uuid.uuid4().hex[:8]
    big = {f"k{n}": "v" * 1000 for n in range(100)}  # ~100 KB: more than one producer batch
    batch = [
        {
            "id": f"b-{run}-{n}",
            "ci_id": DEMO_CIS[n % len(DEMO_CIS)],
            "state": "ok",
            "summary": "s" * 500,
        }
        for n in range(300)
    ]
    batch.append({"id": f"huge-{run}", "ci_id": "db-gl-01", "state": "down", "attributes": big})
    r = await ingest.post("/v1/events", json=batch, headers=AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == 301
    huge = await telemetry.wait_for(lambda e: e.id == f"huge-{run}")
    assert huge.event.attributes == big
    for n in range(300):
        await telemetry.wait_for(lambda e, n=n: e.id == f"b-{run}-{n}")
