"""Ingest's HTTP contract: what a client sees for good and bad input (sink held in memory)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from impactline.core import topics
from impactline.core.contracts import DeadLetter
from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.sink import MemorySink
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

INGEST = {"Authorization": "Bearer ingest-key"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(sink: MemorySink) -> Iterator[TestClient]:
    keys = StaticKeyStore.from_specs(["ingest-key=ingest", "read-key=read"])
    app = create_app(Settings(), sink=sink, key_store=keys, ingest_settings=IngestSettings())
    with TestClient(app) as c:
        yield c


def test_one_event_is_accepted_with_its_id_and_trace(client: TestClient, sink: MemorySink) -> None:
    r = client.post(
        "/v1/events", json={"id": "e1", "ci_id": "db-gl-01", "state": "down"}, headers=INGEST
    )
    assert r.status_code == 202
    assert r.json()["ids"] == ["e1"]
    assert len(r.json()["trace_id"]) == 32
    assert r.headers["traceparent"].split("-")[1] == r.json()["trace_id"]
    # no catalog to bind with here: keyed by the CI it names
    assert [(t, k, e.id) for t, k, e in sink.events] == [("telemetry", "db-gl-01", "e1")]


def test_a_batch_is_accepted_keyed_by_ci(client: TestClient, sink: MemorySink) -> None:
    batch = [{"ci_id": f"ci-{n}", "state": "ok"} for n in range(3)]
    r = client.post("/v1/events", json=batch, headers=INGEST)
    assert r.status_code == 202 and r.json()["accepted"] == 3
    assert [k for _, k, _ in sink.events] == ["ci-0", "ci-1", "ci-2"]


def test_ndjson_lines_are_events(client: TestClient, sink: MemorySink) -> None:
    body = b'{"ci_id": "a", "state": "ok"}\n\n{"ci_id": "b", "state": "down"}\n'
    r = client.post(
        "/v1/events", content=body, headers={**INGEST, "content-type": "application/x-ndjson"}
    )
    assert r.status_code == 202 and r.json()["accepted"] == 2
    assert [k for _, k, _ in sink.events] == ["a", "b"]


def test_bad_field_is_named_in_a_problem_document(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json={"ci_id": "db-gl-01", "state": "melted"}, headers=INGEST)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["title"] == "Invalid event"
    assert body["errors"][0]["pointer"] == "/state"
    assert body["errors"][0]["field"] == "state"
    assert "ok" in body["errors"][0]["detail"]
    assert sink.events == []


def test_bad_item_in_a_batch_is_named_by_index_and_the_rest_accepted(
    client: TestClient, sink: MemorySink
) -> None:
    batch = [{"ci_id": "a", "state": "ok"}, {"ci_id": "b"}, {"ci_id": "c", "state": "down"}]
    r = client.post("/v1/events", json=batch, headers=INGEST)
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 2
    assert [(x["index"], [e["pointer"] for e in x["errors"]]) for x in body["rejected"]] == [
        (1, ["/1/state"])
    ]
    assert [e.ci_id for e in sink.on(topics.TELEMETRY)] == ["a", "c"]
    # The rejected item is kept with its reason, so it can be fixed and replayed.
    (letter,) = sink.on(topics.DEAD_LETTERS)
    assert isinstance(letter, DeadLetter)
    assert letter.source == "ingest/native" and "/1/state" in letter.reason
    assert '"ci_id":"b"' in letter.payload
    assert letter.original_headers["http-route"] == "/v1/events"


def test_a_batch_with_nothing_valid_is_one_problem(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json=[{"ci_id": "a"}, {"state": "ok"}], headers=INGEST)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [(e["index"], e["pointer"]) for e in errors] == [(0, "/0/state"), (1, "/1/ci_id")]
    assert sink.events == []


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b"{not json", 400, "Malformed JSON"),
        (b"", 400, "Empty body"),
        (b"[]", 422, "Empty batch"),
        (b'"just a string"', 422, "Invalid event"),
        (
            b"["
            + b",".join([b'{"ci_id":"x","state":"ok","summary":"' + b"x" * 1900 + b'"}'] * 600)
            + b"]",
            413,
            "Body too large",
        ),
    ],
)
def test_malformed_bodies_get_problem_documents(
    client: TestClient, body: bytes, status: int, title: str
) -> None:
    r = client.post(
        "/v1/events", content=body, headers={**INGEST, "content-type": "application/json"}
    )
    assert (r.status_code, r.json()["title"]) == (status, title)
    assert r.headers["content-type"] == "application/problem+json"


def test_body_limit_is_configurable(sink: MemorySink) -> None:
    keys = StaticKeyStore.from_specs(["ingest-key=ingest"])
    app = create_app(
        Settings(), sink=sink, key_store=keys, ingest_settings=IngestSettings(max_body_bytes=2048)
    )
    event = {"ci_id": "a", "state": "ok", "summary": "x" * 3000}
    with TestClient(app) as c:
        r = c.post("/v1/events", json=event, headers=INGEST)
    assert r.status_code == 413 and r.json()["limit"] == 2048


def test_compressed_bodies_are_refused_by_name(client: TestClient) -> None:
    r = client.post(
        "/v1/events", content=b"\x1f\x8b", headers={**INGEST, "content-encoding": "gzip"}
    )
    assert r.status_code == 415 and "gzip" in r.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer nope"}, 401), ({"X-API-Key": "read-key"}, 403)],
)
def test_writes_need_a_key_with_the_ingest_scope(
    client: TestClient, sink: MemorySink, headers: dict[str, str], status: int
) -> None:
    r = client.post("/v1/events", json={"ci_id": "a", "state": "ok"}, headers=headers)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    assert sink.events == []


def test_broker_down_answers_503_with_retry_after(client: TestClient, sink: MemorySink) -> None:
    sink.broken = True
    r = client.post("/v1/events", json={"ci_id": "a", "state": "ok"}, headers=INGEST)
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert int(r.headers["retry-after"]) > 0
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
