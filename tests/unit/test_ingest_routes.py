"""Every ingest route with real-world bodies: what lands on which topic, and what a client sees."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from impactline.core import topics
from impactline.core.contracts import ChangeEvent, DeadLetter, FeedbackEvent, TelemetryEvent
from impactline.core.states import State
from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.sink import MemorySink
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "adapters"
KEY = "ingest-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(sink: MemorySink) -> Iterator[TestClient]:
    keys = StaticKeyStore.from_specs([f"{KEY}=ingest", "read-key=read"])
    app = create_app(Settings(), sink=sink, key_store=keys, ingest_settings=IngestSettings())
    with TestClient(app) as c:
        yield c


def test_alertmanager_alerts_become_telemetry_and_unlabelled_ones_dead_letters(
    client: TestClient, sink: MemorySink
) -> None:
    r = client.post("/v1/alertmanager", json=fixture("alertmanager_firing.json"), headers=AUTH)
    assert r.status_code == 202, r.text
    events = sink.on(topics.TELEMETRY)
    assert events and all(isinstance(e, TelemetryEvent) for e in events)
    assert events[0].ci_id == "db-gl-01" and events[0].state is State.DOWN
    assert r.json()["ids"] == [e.id for e in events]

    r = client.post("/v1/alertmanager", json=fixture("alertmanager_unlabelled.json"), headers=AUTH)
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 0
    assert body["rejected"][0]["errors"][0]["pointer"] == "/alerts/0/labels"
    assert "left 2 alert(s) out" in body["notes"][0]
    (letter,) = sink.on(topics.DEAD_LETTERS)
    assert isinstance(letter, DeadLetter) and letter.source == "ingest/alertmanager"
    # Kept as a one-alert notification, so it can be posted again once labelled.
    kept = json.loads(letter.payload)
    assert kept["version"] == "4" and kept["receiver"] == "impactline"
    assert len(kept["alerts"]) == 1


def test_alertmanager_wrong_version_names_the_field(client: TestClient) -> None:
    body = {**fixture("alertmanager_firing.json"), "version": "3"}
    r = client.post("/v1/alertmanager", json=body, headers=AUTH)
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "/version"


def test_cloudevents_structured_binary_and_batch(client: TestClient, sink: MemorySink) -> None:
    structured = fixture("cloudevents_structured.json")
    r = client.post(
        "/v1/cloudevents",
        content=json.dumps(structured),
        headers={**AUTH, "content-type": "application/cloudevents+json"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["ids"] == [structured["id"]]

    binary = fixture("cloudevents_binary.json")
    r = client.post(
        "/v1/cloudevents",
        content=json.dumps(binary["body"]),
        headers={**AUTH, **binary["headers"]},
    )
    assert r.status_code == 202, r.text
    assert r.json()["ids"] == [binary["headers"]["ce-id"]]

    batch = fixture("cloudevents_batch.json")
    r = client.post(
        "/v1/cloudevents",
        content=json.dumps(batch),
        headers={**AUTH, "content-type": "application/cloudevents-batch+json"},
    )
    assert r.status_code == 202, r.text
    telemetry = {e.id for e in sink.on(topics.TELEMETRY)}
    assert {structured["id"], binary["headers"]["ce-id"]} <= telemetry
    assert any(isinstance(e, ChangeEvent) for e in sink.on(topics.CHANGES))


def test_cloudevents_binary_error_names_the_header(client: TestClient) -> None:
    r = client.post(
        "/v1/cloudevents",
        json={"state": "down"},
        headers={**AUTH, "ce-specversion": "1.0", "ce-source": "s", "ce-type": "nope"},
    )
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["header"] == "ce-id" and error["field"] == "ce-id"


def test_pagerduty_trigger_acknowledge_resolve_in_its_own_shapes(
    client: TestClient, sink: MemorySink
) -> None:
    trigger = {**fixture("pagerduty_trigger.json"), "routing_key": KEY}
    r = client.post("/v2/enqueue", json=trigger)  # the routing key is the API key
    assert r.status_code == 202
    assert r.json() == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "gl-ledger/db-gl-01/latency",
    }
    ack = {**fixture("pagerduty_acknowledge.json"), "routing_key": KEY}
    assert client.post("/v2/enqueue", json=ack).status_code == 202
    # A bare resolve names no CI; the trigger seen before tells which one.
    resolve = {**fixture("pagerduty_resolve_bare.json"), "routing_key": KEY}
    assert client.post("/v2/enqueue", json=resolve).status_code == 202
    states = [(e.ci_id, e.state) for e in sink.on(topics.TELEMETRY)]
    assert states == [("db-gl-01", State.DOWN), ("db-gl-01", State.OK)]


def test_pagerduty_invalid_event_is_a_400_problem(client: TestClient, sink: MemorySink) -> None:
    bad = {**fixture("pagerduty_trigger.json"), "routing_key": KEY}
    bad["payload"] = {**bad["payload"], "severity": "apocalyptic"}
    r = client.post("/v2/enqueue", json=bad)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["pointer"] == "/payload/severity"
    assert r.json()["message"] == "Event object is invalid"
    assert sink.events == []


@pytest.mark.parametrize(("routing_key", "status"), [(None, 401), ("nope", 401), ("read-key", 403)])
def test_pagerduty_needs_an_ingest_key(
    client: TestClient, routing_key: str | None, status: int
) -> None:
    body = fixture("pagerduty_trigger.json")
    body.pop("routing_key")
    if routing_key:
        body["routing_key"] = routing_key
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"


def test_change_records_land_on_changes_one_per_ci(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/changes", json=fixture("changes_deployment.json"), headers=AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == 2
    keyed = [(name, key, event.ci_id) for name, key, event in sink.events]
    # no catalog to bind with here: keyed by the CI each names (bound, by its domain)
    assert keyed == [("changes", "app-gl-01", "app-gl-01"), ("changes", "app-gl-02", "app-gl-02")]

    r = client.post("/v1/changes", json=fixture("changes_batch.json"), headers=AUTH)
    assert r.status_code == 202
    rejected = {x["index"]: x["errors"][0]["pointer"] for x in r.json()["rejected"]}
    assert rejected == {1: "/1/kind", 2: "/2/comitter"}
    assert {letter.source for letter in sink.on(topics.DEAD_LETTERS)} == {"ingest/changes"}


def test_feedback_lands_on_feedback_keyed_by_service(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/feedback", json=fixture("feedback_batch.json"), headers=AUTH)
    assert r.status_code == 202
    assert r.json()["accepted"] == 2
    assert [x["index"] for x in r.json()["rejected"]] == [2, 3]
    keyed = [(name, key) for name, key, e in sink.events if isinstance(e, FeedbackEvent)]
    assert keyed == [("feedback", "financial-close"), ("feedback", "payroll")]


def test_openapi_documents_every_route_with_its_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/alertmanager", "/v1/cloudevents", "/v2/enqueue"):
        operation = spec["paths"][path]["post"]
        assert operation["requestBody"]["content"], path
        assert "application/problem+json" in operation["responses"]["429"]["content"]
    assert "application/x-ndjson" in spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
