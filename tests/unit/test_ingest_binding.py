"""ingest binds what it accepts: what a sender sees in the answer, what lands on which topic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from impactline.core import topics
from impactline.core.contracts import TelemetryEvent, UnboundEvent, UnboundKind
from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.sink import MemorySink
from impactline.ingest.webhooks import load_mappings
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer ingest-key"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def holder() -> CatalogHolder:
    return CatalogHolder.from_files([ROOT / "deploy" / "catalog"], version=3)


@pytest.fixture
def client(sink: MemorySink, holder: CatalogHolder) -> Iterator[TestClient]:
    mappings = load_mappings(
        [ROOT / "deploy" / "webhooks", ROOT / "tests" / "fixtures" / "webhooks" / "checks.yaml"]
    )
    app = create_app(
        Settings(),
        sink=sink,
        key_store=StaticKeyStore.from_specs(["ingest-key=ingest", "read-key=read"]),
        ingest_settings=IngestSettings(),
        catalog=holder,
        webhooks=mappings,
    )
    with TestClient(app) as c:
        yield c


def notification(*instances: str) -> dict[str, Any]:
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "PostgresDown", "instance": instance, "severity": "critical"},
            "annotations": {},
            "startsAt": "2026-11-30T10:00:00Z",
            "fingerprint": f"fp-{n}",
        }
        for n, instance in enumerate(instances)
    ]
    return {"version": "4", "status": "firing", "receiver": "impactline", "alerts": alerts}


def test_an_alert_naming_host_and_port_is_published_for_its_ci_with_the_rule(
    client: TestClient, sink: MemorySink
) -> None:
    r = client.post("/v1/alertmanager", json=notification("db-gl-01:9187"), headers=AUTH)
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["accepted"], body["bound"], body["unbound"]) == (1, 1, 0)
    [event] = sink.on(topics.TELEMETRY)
    assert isinstance(event, TelemetryEvent) and event.ci_id == "db-gl-01"
    assert event.binding is not None
    assert event.binding.model_dump() == {
        "rule": "instance-host",
        "input": "alertmanager",
        "key": "db-gl-01:9187",
        "value": "db-gl-01",
        "via": "id",
        "catalog_version": 3,
        "correlation_domain": "dom-bank-reconciliation",
    }
    assert event.attributes["instance"] == "db-gl-01:9187"  # the labels stay as sent
    assert body["ids"] == [event.id]
    # The key of the message is the bound CI, not what the source named.
    # keyed by the correlation domain of the CI it was bound to
    assert [key for name, key, _ in sink.events] == ["dom-bank-reconciliation"]


def test_an_event_nothing_binds_waits_on_the_unbound_topic_and_the_answer_says_so(
    client: TestClient, sink: MemorySink
) -> None:
    r = client.post(
        "/v1/alertmanager", json=notification("db-gl-01:9187", "db-gl-10:9187"), headers=AUTH
    )
    body = r.json()
    assert r.status_code == 202
    assert (body["accepted"], body["bound"], body["unbound"]) == (2, 1, 1)
    assert body["unbound_keys"] == [
        {"key": "db-gl-10:9187", "events": 1, "closest": ["db-gl-01", "db-bi-01"]}
    ]
    [kept] = sink.on(topics.UNBOUND)
    assert isinstance(kept, UnboundEvent)
    assert (kept.kind, kept.input, kept.key, kept.catalog_version) == (
        UnboundKind.TELEMETRY,
        "alertmanager",
        "db-gl-10:9187",
        3,
    )
    assert kept.id == body["ids"][1]  # the event keeps its id while it waits
    assert kept.event["ci_id"] == "db-gl-10:9187" and kept.event["state"] == "down"
    assert "instance-host: no CI id or alias is 'db-gl-10'" in kept.reason
    assert [e.ci_id for e in sink.on(topics.TELEMETRY)] == ["db-gl-01"]  # type: ignore[attr-defined]


def test_a_new_catalog_version_binds_the_next_event_without_a_restart(
    client: TestClient, sink: MemorySink, holder: CatalogHolder
) -> None:
    client.post("/v1/alertmanager", json=notification("gl-replica:9187"), headers=AUTH)
    assert len(sink.on(topics.UNBOUND)) == 1
    current = holder.current.catalog
    [(name, finance)] = [(n, d) for n, d in current.to_documents() if n.endswith("finance.yaml")]
    for ci in finance["cis"]:
        if ci["id"] == "db-gl-01":
            ci["aliases"] = [*ci.get("aliases", []), "gl-replica"]
    holder.switch(4, current.with_document(name, finance))
    r = client.post("/v1/alertmanager", json=notification("gl-replica:9187"), headers=AUTH)
    assert r.json()["bound"] == 1
    [event] = sink.on(topics.TELEMETRY)
    assert isinstance(event, TelemetryEvent) and event.binding is not None
    assert (event.ci_id, event.binding.rule, event.binding.via, event.binding.catalog_version) == (
        "db-gl-01",
        "instance-host",
        "alias",
        4,
    )


def test_webhook_mappings_are_served_and_bound(client: TestClient, sink: MemorySink) -> None:
    grafana = json.loads((ROOT / "tests/fixtures/webhooks/grafana_firing.json").read_text())
    r = client.post("/v1/webhooks/grafana", json=grafana, headers=AUTH)
    assert r.status_code == 202, r.text
    assert (r.json()["accepted"], r.json()["bound"]) == (2, 2)
    events = sink.on(topics.TELEMETRY)
    assert [(e.ci_id, e.binding.rule, e.binding.input) for e in events] == [  # type: ignore[attr-defined,union-attr]
        ("db-gl-01", "instance-host", "grafana"),
        ("app-gl-01", "key", "grafana"),
    ]
    kuma = {"heartbeat": None, "monitor": None, "msg": "Uptime Kuma Testing"}
    test = client.post("/v1/webhooks/uptime-kuma", json=kuma, headers=AUTH)
    assert test.status_code == 202 and test.json()["accepted"] == 0
    assert test.json()["notes"]


def test_an_unknown_webhook_mapping_is_404_listing_the_mappings(client: TestClient) -> None:
    r = client.post("/v1/webhooks/nagios", json={}, headers=AUTH)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "grafana, uptime-kuma, zabbix" in r.json()["detail"]


def test_a_key_that_is_no_valid_id_still_binds_by_alias_and_otherwise_waits(
    client: TestClient, sink: MemorySink
) -> None:
    kuma = json.loads((ROOT / "tests/fixtures/webhooks/uptime_kuma_push_up.json").read_text())
    r = client.post("/v1/webhooks/uptime-kuma", json=kuma, headers=AUTH)
    assert r.json()["unbound_keys"][0]["key"] == "GL Database"
    [kept] = sink.on(topics.UNBOUND)
    assert isinstance(kept, UnboundEvent) and kept.input == "uptime-kuma"


def test_a_foreign_cloudevent_is_mapped_and_bound_by_ip(
    client: TestClient, sink: MemorySink
) -> None:
    event = {
        "specversion": "1.0",
        "id": "c0ffee00-0000-4000-8000-000000000001",
        "source": "https://checks.example.com",
        "type": "com.example.monitoring.check.failed",
        "data": {"check": "tcp/5432", "target": {"address": "10.20.0.22"}},
    }
    r = client.post(
        "/v1/cloudevents",
        content=json.dumps(event),
        headers={**AUTH, "content-type": "application/cloudevents+json"},
    )
    assert r.status_code == 202, r.text
    [bound] = sink.on(topics.TELEMETRY)
    assert isinstance(bound, TelemetryEvent) and bound.binding is not None
    assert (bound.id, bound.ci_id, bound.binding.rule) == (event["id"], "app-gl-02", "ip-address")


def test_unbound_events_are_counted_per_input_and_key(client: TestClient) -> None:
    client.post("/v1/alertmanager", json=notification("lost-host-7:9100"), headers=AUTH)
    client.post("/v1/alertmanager", json=notification("db-gl-01:9187"), headers=AUTH)
    metrics = client.get("/metrics", headers={"Authorization": "Bearer read-key"}).text
    assert (
        'impactline_ingest_unbound_events_total{input="alertmanager",key="lost-host-7:9100"} 1.0'
        in metrics
    )
    assert 'impactline_ingest_bound_events_total{input="alertmanager",rule="instance-host"}' in (
        metrics
    )


def test_without_a_catalog_events_pass_as_named(sink: MemorySink) -> None:
    app = create_app(
        Settings(),
        sink=sink,
        key_store=StaticKeyStore.from_specs(["ingest-key=ingest"]),
        ingest_settings=IngestSettings(),
    )
    with TestClient(app) as c:
        r = c.post("/v1/events", json={"ci_id": "anything-01", "state": "down"}, headers=AUTH)
    assert r.status_code == 202 and "bound" not in r.json()
    assert [e.ci_id for e in sink.on(topics.TELEMETRY)] == ["anything-01"]  # type: ignore[attr-defined]
