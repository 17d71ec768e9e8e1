"""CloudEvents over HTTP: structured, batched and binary mode map onto the three contracts."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.core.contracts import ChangeEvent, FeedbackEvent, TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, cloudevents_http, destination

RECEIVED = datetime(2026, 11, 30, 10, tzinfo=UTC)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"
STRUCTURED = {"Content-Type": "application/cloudevents+json; charset=utf-8"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_structured_event_takes_id_time_and_subject_from_the_envelope() -> None:
    [event] = cloudevents_http.translate(
        load("cloudevents_structured.json"), STRUCTURED, received_at=RECEIVED
    ).accepted
    assert isinstance(event, TelemetryEvent)
    assert event.id == "0b7e9d6c-5a1f-4c2e-9d3b-8f6a2e1c4d70"
    assert event.ci_id == "db-gl-01"  # from `subject`
    assert event.time == datetime(2026, 11, 30, 9, 58, 12, tzinfo=UTC)
    assert event.source == "https://monitoring.example.com/probes/finance"
    assert (event.state, event.value) == (State.DEGRADED, 6.8)


def test_batch_routes_each_type_to_its_contract_and_rejects_bad_items() -> None:
    result = cloudevents_http.translate(load("cloudevents_batch.json"), BATCH, received_at=RECEIVED)
    telemetry, change, feedback = result.accepted
    assert isinstance(telemetry, TelemetryEvent) and telemetry.ci_id == "app-gl-01"
    assert isinstance(change, ChangeEvent) and change.ci_id == "gl-ledger"
    assert isinstance(feedback, FeedbackEvent) and feedback.csat == 2
    assert [destination(e)[0].name for e in result.accepted] == ["telemetry", "changes", "feedback"]
    assert destination(feedback)[1] == "financial-close"
    assert [(i, e.pointer) for i, e in result.rejected] == [(3, "/3/data/state"), (4, "/4/type")]
    assert "io.impactline.telemetry.v1" in result.rejected[1][1].message


def test_binary_mode_reads_attributes_from_headers() -> None:
    sample = load("cloudevents_binary.json")
    assert cloudevents_http.content_mode(sample["headers"]) == "binary"
    [event] = cloudevents_http.translate(
        sample["body"], sample["headers"], received_at=RECEIVED
    ).accepted
    assert isinstance(event, TelemetryEvent)
    assert (event.id, event.ci_id, event.state) == (
        "c5f0b1e2-8a7d-4f3c-b6e9-0d1a2b3c4d5e",
        "sftp-payroll-01",
        State.DOWN,
    )
    assert event.time == datetime(2026, 11, 27, 6, 5, tzinfo=UTC)


def test_binary_mode_errors_name_the_header() -> None:
    sample = load("cloudevents_binary.json")
    headers = {**sample["headers"], "ce-type": "io.impactline.weather.v1"}
    with pytest.raises(AdapterError) as caught:
        cloudevents_http.translate(sample["body"], headers, received_at=RECEIVED)
    assert caught.value.header == "ce-type"
    assert caught.value.fields()[0]["header"] == "ce-type"


def test_binary_mode_data_errors_point_into_the_body() -> None:
    sample = load("cloudevents_binary.json")
    with pytest.raises(AdapterError) as caught:
        cloudevents_http.translate(
            {**sample["body"], "state": "sideways"}, sample["headers"], received_at=RECEIVED
        )
    assert caught.value.pointer == "/state"


def test_binary_mode_refuses_non_json_data() -> None:
    sample = load("cloudevents_binary.json")
    headers = {**sample["headers"], "Content-Type": "text/plain"}
    with pytest.raises(AdapterError) as caught:
        cloudevents_http.translate(sample["body"], headers, received_at=RECEIVED)
    assert caught.value.header == "content-type"


def test_binary_header_values_are_percent_decoded() -> None:
    sample = load("cloudevents_binary.json")
    headers = {**sample["headers"], "ce-source": "urn:example:probe%20eu"}
    [event] = cloudevents_http.translate(sample["body"], headers, received_at=RECEIVED).accepted
    assert event.source == "urn:example:probe eu"


@pytest.mark.parametrize(
    ("mutate", "pointer"),
    [
        (lambda e: e.update(specversion="0.3"), "/specversion"),
        (lambda e: e.pop("id"), "/id"),
        (lambda e: e.update(id=""), "/id"),
        (lambda e: e.pop("source"), "/source"),
        (lambda e: e.update(time="30/11/2026 09:58"), "/time"),
        (lambda e: e.update(datacontenttype="application/xml"), "/datacontenttype"),
        (lambda e: e.pop("data"), "/data"),
        (lambda e: e.update(data="down"), "/data"),
        (lambda e: e["data"].update(id="another-id"), "/data/id"),
        (lambda e: e["data"].update(time="2026-11-30T11:00:00Z"), "/data/time"),
        (lambda e: e.update(subject="db gl 01"), "/subject"),
        (lambda e: e["data"].update(colour="red"), "/data/colour"),
    ],
)
def test_a_bad_structured_event_names_the_attribute(mutate: Any, pointer: str) -> None:
    body = load("cloudevents_structured.json")
    mutate(body)
    with pytest.raises(AdapterError) as caught:
        cloudevents_http.translate(body, STRUCTURED, received_at=RECEIVED)
    assert caught.value.pointer == pointer


def test_the_same_time_in_data_and_envelope_is_not_a_conflict() -> None:
    body = load("cloudevents_structured.json")
    body["data"]["time"] = "2026-11-30T10:58:12+01:00"
    event = cloudevents_http.parse_structured(body, received_at=RECEIVED)
    assert event.time == datetime(2026, 11, 30, 9, 58, 12, tzinfo=UTC)


def test_base64_data_is_refused_with_a_reason() -> None:
    body = load("cloudevents_structured.json")
    body["data_base64"] = "eyJzdGF0ZSI6ICJkb3duIn0="
    del body["data"]
    with pytest.raises(AdapterError, match="binary data") as caught:
        cloudevents_http.parse_structured(body, received_at=RECEIVED)
    assert caught.value.pointer == "/data_base64"


@pytest.mark.parametrize(
    "headers",
    [{"Content-Type": "application/json"}, {"Content-Type": "application/cloudevents+avro"}, {}],
)
def test_a_request_that_is_not_a_json_cloudevent_names_the_content_type(
    headers: dict[str, str],
) -> None:
    with pytest.raises(AdapterError) as caught:
        cloudevents_http.content_mode(headers)
    assert caught.value.header == "content-type"


def test_an_empty_batch_is_an_error() -> None:
    with pytest.raises(AdapterError, match="no events"):
        cloudevents_http.translate([], BATCH, received_at=RECEIVED)
