"""The catalog at run time on the real database and broker: versions, idempotence, publishing.

Each test gets its own PostgreSQL schema (so versions start at 1) and the module its own topic
prefix, so the suite can share one server and one broker with other tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner

from impactline.cli.main import app as cli
from impactline.core import cloudevents, topics
from impactline.core.catalog import Catalog, load_catalog
from impactline.core.catalog.generator import generate_documents
from impactline.core.contracts import CatalogPublished
from impactline.runtime.catalog_publisher import (
    CATALOG_CONSUMER_OPTIONS,
    KafkaCatalogPublisher,
    catalog_from_event,
    new_catalog_producer,
    publish_catalog,
    read_latest_catalog,
)
from impactline.runtime.catalog_store import CatalogStore, stored_documents
from impactline.runtime.kafka import ensure_topics, topic_name
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"catstore-{uuid.uuid4().hex[:8]}."


def with_search_path(database_url: str, schema: str) -> str:
    return f"{database_url}{'&' if '?' in database_url else '?'}search_path={schema}"


@pytest.fixture
async def schema_url(database_url: str) -> AsyncIterator[str]:
    """The database seen through a schema of its own, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(database_url, schema)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()


@pytest.fixture
async def store(schema_url: str) -> AsyncIterator[CatalogStore]:
    opened = await CatalogStore.open(schema_url, max_size=8)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="module")
async def catalog_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    await ensure_topics(kafka_bootstrap, [topics.CATALOG], prefix=PREFIX)
    yield topic_name(topics.CATALOG, PREFIX)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic_name(topics.CATALOG, PREFIX)])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def demo() -> Catalog:
    return load_catalog([ROOT / "deploy" / "catalog"])


def renamed(catalog: Catalog, service_id: str, name: str) -> Catalog:
    """`catalog` with one business service renamed: a different content, a new fingerprint."""
    for doc_name, doc in catalog.to_documents():
        for entry in doc.get("services", []):
            if entry["id"] == service_id:
                entry["name"] = name
                return catalog.with_document(doc_name, doc)
    raise AssertionError(f"no service {service_id}")


async def test_a_fresh_database_has_no_catalog_and_the_first_one_is_version_1(
    store: CatalogStore, demo: Catalog
) -> None:
    assert await store.current() is None
    assert await store.head_version() is None

    assert await store.replace(demo, "test") == 1

    version, catalog = await store.current() or (None, None)
    assert version == 1
    assert catalog is not None and catalog.fingerprint == demo.fingerprint
    head = await store.head()
    assert head is not None
    assert (head.services, head.cis, head.created_by) == (len(demo.services), len(demo.cis), "test")
    assert head.domains == len(demo.graph.domains())
    assert head.fingerprint == demo.fingerprint
    # Stored under the file names, not the folders of the machine that loaded them.
    assert set(head.document_names) == {Path(n).name for n in demo.document_names}


async def test_storing_the_current_content_again_stores_nothing(
    store: CatalogStore, demo: Catalog
) -> None:
    first = await store.replace(demo, "test")
    # Equal content split into one document: the same fingerprint, so the same version.
    merged: dict[str, list[Any]] = {}
    for _, doc in demo.to_documents():
        for section in ("services", "technical_services", "cis", "bindings"):
            merged.setdefault(section, []).extend(doc.get(section, []))
    same = Catalog.from_documents([("all.yaml", {"version": 1, **merged})])

    assert await store.replace(same, "someone else") == first
    assert [v.version for v in await store.versions()] == [first]


async def test_a_change_is_a_new_version_and_earlier_versions_stay_readable(
    store: CatalogStore, demo: Catalog
) -> None:
    changed = renamed(demo, "financial-close", "Financial Close and Consolidation")
    assert await store.replace(demo, "test") == 1
    assert await store.replace(changed, "test") == 2

    _, current = await store.current() or (None, None)
    assert current is not None
    assert current.services["financial-close"].name == "Financial Close and Consolidation"
    first = await store.load(1)
    assert first is not None and first.catalog().fingerprint == demo.fingerprint
    # Going back to earlier content is a new version, so workers holding version 2 switch.
    assert await store.replace(demo, "test") == 3
    assert [v.version for v in await store.versions(limit=2)] == [3, 2]


async def test_concurrent_replacements_get_distinct_versions_in_commit_order(
    store: CatalogStore, demo: Catalog
) -> None:
    variants = [renamed(demo, "payroll", f"Payroll {n}") for n in range(6)]

    versions = await asyncio.gather(
        *(store.replace(v, f"writer-{n}") for n, v in enumerate(variants))
    )

    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
    latest = variants[versions.index(6)]
    _, current = await store.current() or (None, None)
    assert current is not None and current.fingerprint == latest.fingerprint


async def test_concurrent_replacements_with_equal_content_store_it_once(
    store: CatalogStore, demo: Catalog
) -> None:
    versions = await asyncio.gather(*(store.replace(demo, f"writer-{n}") for n in range(6)))

    assert set(versions) == {1}
    assert len(await store.versions()) == 1


async def read_all(bootstrap: str, name: str, count: int) -> list[ConsumerRecord]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **CATALOG_CONSUMER_OPTIONS
    )
    await consumer.start()
    try:
        partition = TopicPartition(name, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        records: list[ConsumerRecord] = []

        async def enough() -> bool:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            return len(records) >= count

        await wait_for(enough, timeout=60, interval=0, message=f"{count} catalog messages")
        return records
    finally:
        await consumer.stop()


async def test_a_published_version_reads_back_as_an_equal_catalog(
    store: CatalogStore, demo: Catalog, kafka_bootstrap: str, catalog_topic: str
) -> None:
    large = Catalog.from_documents(generate_documents(1500, 15000, seed=7))
    producer = new_catalog_producer(kafka_bootstrap)
    await producer.start()
    try:
        sent = []
        for catalog in (demo, large):
            version = await store.replace(catalog, "test")
            stored = await store.load(version)
            assert stored is not None
            sent.append(
                await publish_catalog(
                    producer, version, catalog, PREFIX, documents=stored.documents
                )
            )
    finally:
        await producer.stop()

    records = await read_all(kafka_bootstrap, catalog_topic, 2)

    assert [r.key for r in records] == [b"catalog", b"catalog"]
    # Beyond the 1 MiB a default producer and topic accept.
    assert len(records[1].value) > 2 * 1024 * 1024
    for record, event, catalog in zip(records, sent, (demo, large), strict=True):
        envelope = cloudevents.decode(topics.CATALOG, record.value, record.headers)
        received = envelope.event
        assert isinstance(received, CatalogPublished)
        assert envelope.headers["ce_id"] == event.id
        assert (received.version, received.fingerprint) == (event.version, catalog.fingerprint)
        assert catalog_from_event(received).fingerprint == catalog.fingerprint
    # The id names the version and content, so sending the same version again is a duplicate.
    again = await publish_again(kafka_bootstrap, 1, demo)
    assert again.id == sent[0].id


async def publish_again(bootstrap: str, version: int, catalog: Catalog) -> CatalogPublished:
    producer = new_catalog_producer(bootstrap)
    await producer.start()
    try:
        return await publish_catalog(
            producer, version, catalog, PREFIX, documents=stored_documents(catalog)
        )
    finally:
        await producer.stop()


def test_the_load_command_stores_publishes_and_reports_the_version(
    schema_url: str, kafka_bootstrap: str, catalog_topic: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": schema_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "IMPACTLINE_TOPIC_PREFIX": PREFIX,
    }
    demo = load_catalog([ROOT / "deploy" / "catalog"])
    runner = CliRunner()

    first = runner.invoke(cli, ["catalog", "load", str(ROOT / "deploy" / "catalog")], env=env)
    again = runner.invoke(cli, ["catalog", "load", str(ROOT / "deploy" / "catalog")], env=env)

    assert first.exit_code == 0, first.output
    domains = len(demo.graph.domains())
    summary = (
        f"catalog version 1: {len(demo.services)} services, {len(demo.cis)} CIs, {domains} domains"
    )
    assert summary in first.stdout
    assert "stored as version 1" in first.stderr
    assert again.exit_code == 0 and "unchanged: version 1" in again.stderr
    listed = runner.invoke(cli, ["catalog", "versions"], env=env)
    assert listed.exit_code == 0 and demo.fingerprint.removeprefix("sha256:")[:10] in listed.stdout

    # A catalog without services would remove every one: refused unless forced.
    empty = tmp_path / "empty.yaml"
    empty.write_text("version: 1\n")
    refused = runner.invoke(cli, ["catalog", "load", str(empty)], env=env)
    assert refused.exit_code == 1 and "would remove all" in refused.stderr, refused.output
    assert "unchanged" not in refused.stderr and "stored as" not in refused.stderr
    forced = runner.invoke(cli, ["catalog", "load", "--force", str(empty)], env=env)
    assert forced.exit_code == 0 and "stored as version 2" in forced.stderr, forced.output


def test_the_load_command_prints_every_error_and_stores_nothing(
    schema_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\n"
        "services:\n"
        "  - {id: svc, name: Svc, owner: Team, tier: 7, users: 1, domain: d}\n"
        "cis:\n"
        "  - {id: ci-1, type: toaster, owner: Team}\n"
    )
    env = {"DATABASE_URL": schema_url, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap}

    result = CliRunner().invoke(cli, ["catalog", "load", str(broken)], env=env)

    assert result.exit_code == 1
    assert f"{broken}:services[0].tier" in result.stderr
    assert f"{broken}:cis[0].type" in result.stderr
    assert "2 errors" in result.stderr
    listed = CliRunner().invoke(cli, ["catalog", "versions"], env=env)
    assert "no catalog stored yet" in listed.stderr


async def test_the_latest_version_is_read_without_reading_the_older_ones(
    kafka_bootstrap: str, demo: Catalog
) -> None:
    prefix = f"catlatest-{uuid.uuid4().hex[:8]}."
    assert await read_latest_catalog(kafka_bootstrap, prefix) is None  # no topic yet
    publisher = KafkaCatalogPublisher(kafka_bootstrap, prefix)
    await publisher.start()
    try:
        assert await read_latest_catalog(kafka_bootstrap, prefix) is None  # empty topic
        changed = renamed(demo, "payroll", "Payroll and Pensions")
        await publisher.publish(1, demo)
        await publisher.publish(2, changed)

        latest = await read_latest_catalog(kafka_bootstrap, prefix)

        assert latest is not None and latest.version == 2
        assert catalog_from_event(latest).services["payroll"].name == "Payroll and Pensions"
    finally:
        await publisher.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic_name(topics.CATALOG, prefix)])
        finally:
            await admin.close()
