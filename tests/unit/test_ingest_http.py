"""Ingest's HTTP contract: what a client sees for good and bad input (sink held in memory)."""

from collections.abc import Iterator, Sequence

import pytest
from fastapi.testclient import TestClient

from impactline.core import topics
from impactline.core.contracts import Contract
from impactline.ingest.app import create_app
from impactline.ingest.sink import SinkUnavailable
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

INGEST = {"Authorization": "Bearer ingest-key"}


class MemorySink:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, Contract]] = []
        self.broken = False

    async def put(self, topic: topics.Topic, events: Sequence[tuple[str, Contract]]) -> None:
        if self.broken:
            raise SinkUnavailable("broker down")
        self.events += [(topic.name, key, event) for key, event in events]

    async def ready(self) -> bool:
        return not self.broken


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(sink: MemorySink) -> Iterator[TestClient]:
    keys = StaticKeyStore.from_specs(["ingest-key=ingest", "read-key=read"])
    with TestClient(create_app(Settings(), sink=sink, key_store=keys)) as c:
        yield c


def test_one_event_is_accepted_with_its_id_and_trace(client: TestClient, sink: MemorySink) -> None:
    r = client.post(
        "/v1/events", json={"id": "e1", "ci_id": "db-gl-01", "state": "down"}, headers=INGEST
    )
    assert r.status_code == 202
    assert r.json()["ids"] == ["e1"]
    assert len(r.json()["trace_id"]) == 32
    assert r.headers["traceparent"].split("-")[1] == r.json()["trace_id"]
    assert [(t, k, e.id) for t, k, e in sink.events] == [("telemetry", "db-gl-01", "e1")]


def test_a_batch_is_accepted_keyed_by_ci(client: TestClient, sink: MemorySink) -> None:
    batch = [{"ci_id": f"ci-{n}", "state": "ok"} for n in range(3)]
    r = client.post("/v1/events", json=batch, headers=INGEST)
    assert r.status_code == 202 and r.json()["accepted"] == 3
    assert [k for _, k, _ in sink.events] == ["ci-0", "ci-1", "ci-2"]


def test_bad_field_is_named_in_a_problem_document(client: TestClient, sink: MemorySink) -> None:
    r = client.post("/v1/events", json={"ci_id": "db-gl-01", "state": "melted"}, headers=INGEST)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 422 and body["title"] == "Invalid event"
    assert body["errors"][0]["pointer"] == "/state"
    assert "ok" in body["errors"][0]["detail"]
    assert sink.events == []


def test_bad_item_in_a_batch_is_named_by_index(client: TestClient, sink: MemorySink) -> None:
    batch = [{"ci_id": "a", "state": "ok"}, {"ci_id": "b"}]
    r = client.post("/v1/events", json=batch, headers=INGEST)
    assert r.status_code == 422
    assert [e["pointer"] for e in r.json()["errors"]] == ["/1/state"]
    assert sink.events == []


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (b"{not json", 400, "Malformed JSON"),
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
    assert int(r.headers["retry-after"]) > 0
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200
