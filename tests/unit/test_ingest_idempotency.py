"""Retries are safe: Idempotency-Key replays the first answer, and resent event ids are not produced
twice."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from impactline.core import topics
from impactline.ingest.app import create_app
from impactline.ingest.config import IngestSettings
from impactline.ingest.idempotency import (
    IdempotencyInFlight,
    IdempotencyMismatch,
    IdempotencyStore,
    StoredAnswer,
)
from impactline.ingest.sink import MemorySink
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.settings import Settings

AUTH = {"Authorization": "Bearer k1"}
OTHER = {"Authorization": "Bearer k2"}


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def client(sink: MemorySink) -> Iterator[TestClient]:
    keys = StaticKeyStore.from_specs(["k1=ingest", "k2=ingest"])
    app = create_app(Settings(), sink=sink, key_store=keys, ingest_settings=IngestSettings())
    with TestClient(app) as c:
        yield c


def test_same_key_and_body_replays_the_answer_without_producing(
    client: TestClient, sink: MemorySink
) -> None:
    headers = {**AUTH, "Idempotency-Key": "req-1"}
    batch = [{"ci_id": "a", "state": "down"}, {"ci_id": "b", "state": "ok"}]  # no ids given
    first = client.post("/v1/events", json=batch, headers=headers)
    again = client.post("/v1/events", json=batch, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(sink.on(topics.TELEMETRY)) == 2


def test_same_key_with_another_body_is_refused(client: TestClient, sink: MemorySink) -> None:
    headers = {**AUTH, "Idempotency-Key": "req-2"}
    assert client.post("/v1/events", json={"ci_id": "a", "state": "ok"}, headers=headers).is_success
    r = client.post("/v1/events", json={"ci_id": "a", "state": "down"}, headers=headers)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Idempotency-Key reused"
    assert len(sink.on(topics.TELEMETRY)) == 1


def test_keys_are_per_api_key(client: TestClient, sink: MemorySink) -> None:
    body = {"ci_id": "a", "state": "ok"}
    client.post("/v1/events", json=body, headers={**AUTH, "Idempotency-Key": "same"})
    r = client.post("/v1/events", json=body, headers={**OTHER, "Idempotency-Key": "same"})
    assert r.status_code == 202 and "idempotent-replayed" not in r.headers
    ids = [e.id for e in sink.on(topics.TELEMETRY)]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_invalid_answers_are_replayed_too_but_unavailable_ones_are_not(
    client: TestClient, sink: MemorySink
) -> None:
    headers = {**AUTH, "Idempotency-Key": "req-3"}
    bad = {"ci_id": "a", "state": "melted"}
    assert client.post("/v1/events", json=bad, headers=headers).status_code == 422
    replay = client.post("/v1/events", json=bad, headers=headers)
    assert replay.status_code == 422 and replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["content-type"] == "application/problem+json"

    headers = {**AUTH, "Idempotency-Key": "req-4"}
    sink.broken = True
    assert (
        client.post("/v1/events", json={"ci_id": "a", "state": "ok"}, headers=headers).status_code
        == 503
    )
    sink.broken = False
    retry = client.post("/v1/events", json={"ci_id": "a", "state": "ok"}, headers=headers)
    assert retry.status_code == 202 and "idempotent-replayed" not in retry.headers
    assert len(sink.on(topics.TELEMETRY)) == 1


def test_ids_derive_from_the_key_so_a_forgotten_answer_still_yields_the_same_ids(
    sink: MemorySink,
) -> None:
    keys = StaticKeyStore.from_specs(["k1=ingest"])
    answers = []
    for _ in range(2):  # two processes: the second never saw the first answer
        app = create_app(Settings(), sink=sink, key_store=keys, ingest_settings=IngestSettings())
        with TestClient(app) as c:
            r = c.post(
                "/v1/feedback",
                json={"service_id": "payroll", "csat": 2},
                headers={**AUTH, "Idempotency-Key": "survey-9"},
            )
            answers.append(r.json()["ids"])
    assert answers[0] == answers[1]


def test_an_invalid_idempotency_key_is_named(client: TestClient) -> None:
    r = client.post(
        "/v1/events",
        json={"ci_id": "a", "state": "ok"},
        headers={**AUTH, "Idempotency-Key": "x" * 256},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["header"] == "idempotency-key"


def test_an_event_resent_with_the_same_id_is_not_produced_again(
    client: TestClient, sink: MemorySink
) -> None:
    event = {"id": "evt-1", "ci_id": "db-gl-01", "state": "down"}
    first = client.post("/v1/events", json=event, headers=AUTH)
    again = client.post("/v1/events", json=event, headers=AUTH)
    assert first.json()["ids"] == again.json()["ids"] == ["evt-1"]
    assert (first.json()["accepted"], first.json()["duplicates"]) == (1, 0)
    # a resend is a duplicate and only that: each item is counted once
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    assert len(sink.on(topics.TELEMETRY)) == 1


def test_every_item_is_counted_once_as_accepted_duplicate_or_rejected(
    client: TestClient, sink: MemorySink
) -> None:
    client.post(
        "/v1/events", json={"id": "evt-a", "ci_id": "db-gl-01", "state": "down"}, headers=AUTH
    )
    items = [
        {"id": "evt-a", "ci_id": "db-gl-01", "state": "down"},  # sent moments before
        {"id": "evt-b", "ci_id": "db-gl-01", "state": "ok"},  # new
        {"id": "evt-b", "ci_id": "db-gl-01", "state": "ok"},  # repeated within the request
        {"id": "evt-c", "ci_id": "db-gl-01", "state": "sideways"},  # invalid
    ]
    body = client.post("/v1/events", json=items, headers=AUTH).json()
    assert (body["accepted"], body["duplicates"], len(body["rejected"])) == (1, 2, 1)
    assert body["accepted"] + body["duplicates"] + len(body["rejected"]) == len(items)
    assert body["ids"] == ["evt-a", "evt-b", "evt-b"]
    assert [e.id for e in sink.on(topics.TELEMETRY)] == ["evt-a", "evt-b"]


def test_store_refuses_concurrent_use_and_forgets_after_ttl() -> None:
    now = [0.0]
    store = IdempotencyStore(ttl_s=10, max_keys=100, clock=lambda: now[0])
    scope = ("key-1", "req")
    assert store.begin(scope, "print-a") is None
    with pytest.raises(IdempotencyInFlight):
        store.begin(scope, "print-a")
    with pytest.raises(IdempotencyMismatch):
        store.begin(scope, "print-b")
    store.finish(scope, StoredAnswer(202, b"{}", "application/json"))
    assert store.begin(scope, "print-a") == StoredAnswer(202, b"{}", "application/json")
    now[0] = 11.0
    assert store.begin(scope, "print-b") is None  # expired: the key may be used afresh


def test_store_keeps_at_most_max_keys() -> None:
    store = IdempotencyStore(ttl_s=100, max_keys=2)
    for n in range(3):
        store.begin(("k", str(n)), "p")
        store.finish(("k", str(n)), StoredAnswer(202, b"{}", "application/json"))
    assert store.begin(("k", "0"), "other") is None  # the oldest was forgotten
