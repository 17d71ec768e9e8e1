"""Native telemetry: one event, a batch with per-item errors, and NDJSON with per-line errors."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, native

RECEIVED = datetime(2026, 11, 30, 10, tzinfo=UTC)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_one_event_keeps_every_field() -> None:
    body = load("native_batch.json")[0]
    [event] = native.translate(body, received_at=RECEIVED).accepted
    assert event.id == "6a0f3c1e-9b2d-4e7a-8c5f-1d2e3f4a5b60"
    assert (event.ci_id, event.state, event.source) == ("db-gl-01", State.DEGRADED, "zabbix")
    assert event.metric == "disk_queue_length" and event.value == 38
    assert event.attributes == {"trigger": "51234"}


def test_an_invalid_single_event_raises_naming_every_field() -> None:
    with pytest.raises(AdapterError) as caught:
        native.translate({"ci_id": "db gl 01", "state": "on fire"}, received_at=RECEIVED)
    pointers = {f["pointer"] for f in caught.value.fields()}
    assert pointers == {"/ci_id", "/state"}


def test_a_misspelt_field_is_named() -> None:
    with pytest.raises(AdapterError) as caught:
        native.parse_event({"ci_id": "app-gl-02", "stat": "down"}, received_at=RECEIVED)
    assert {f["pointer"] for f in caught.value.fields()} == {"/state", "/stat"}


def test_a_batch_accepts_valid_items_and_rejects_each_invalid_one_by_index() -> None:
    result = native.translate(load("native_batch.json"), received_at=RECEIVED)
    assert [e.ci_id for e in result.accepted] == ["db-gl-01"]
    assert [i for i, _ in result.rejected] == [1, 2]
    missing_state = result.rejected[0][1]
    assert missing_state.pointer == "/1/state"
    naive_time = result.rejected[1][1]
    assert naive_time.pointer == "/2/time" and "time zone" in naive_time.message


def test_an_empty_batch_is_an_error() -> None:
    with pytest.raises(AdapterError, match="no events"):
        native.parse_batch([], received_at=RECEIVED)


def test_a_scalar_body_is_refused_at_the_root() -> None:
    with pytest.raises(AdapterError) as caught:
        native.translate("db-gl-01 is down", received_at=RECEIVED)
    assert caught.value.pointer == "" and "got a string" in caught.value.message


def test_ndjson_rejects_bad_lines_by_their_index_and_skips_blank_ones() -> None:
    result = native.parse_ndjson(
        (FIXTURES / "native_events.ndjson").read_bytes(), received_at=RECEIVED
    )
    assert [e.id for e in result.accepted] == ["n-1", "n-2"]
    assert [(i, err.pointer) for i, err in result.rejected] == [(3, "/3"), (4, "/4/ci_id")]
    assert "not valid JSON" in result.rejected[0][1].message


def test_ndjson_accepts_crlf_line_endings() -> None:
    body = b'{"ci_id":"a","state":"ok"}\r\n{"ci_id":"b","state":"down"}\r\n'
    assert [e.ci_id for e in native.parse_ndjson(body, received_at=RECEIVED).accepted] == ["a", "b"]


def test_ndjson_without_any_event_is_an_error() -> None:
    with pytest.raises(AdapterError, match="no events"):
        native.parse_ndjson(b"\n \n", received_at=RECEIVED)


def test_rejected_lines_become_dead_letters_with_the_original_text() -> None:
    result = native.parse_ndjson(
        b'{"ci_id":"a","state":"ok"}\n{"ci_id":"b"}\n', received_at=RECEIVED
    )
    [letter] = result.dead_letters("ingest/native", time=RECEIVED)
    assert letter.payload == '{"ci_id":"b"}'
    assert letter.reason.startswith("/1/state:") and letter.source == "ingest/native"
