"""What the raw-topic input makes of a Kafka message, before anything is produced."""

import json
from datetime import UTC, datetime

import pytest

from impactline.core import topics
from impactline.core.contracts import ChangeEvent, DeadLetter, TelemetryEvent
from impactline.ingest.deadletters import letter_headers
from impactline.ingest.raw import RawMessageInvalid, translate_message

RECEIVED = datetime(2026, 11, 30, 10, tzinfo=UTC)
CE = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"c-1"),
    ("ce_source", b"urn:deploy:50%/eu"),  # a literal % must survive as it is
    ("ce_type", topics.CHANGES.ce_type.encode()),
    ("ce_subject", b"app-gl-01"),
]


def test_plain_json_is_a_telemetry_event() -> None:
    event = translate_message(
        b'{"id": "r1", "ci_id": "db-gl-01", "state": "down"}', [], received_at=RECEIVED
    )
    assert isinstance(event, TelemetryEvent) and (event.id, event.ci_id) == ("r1", "db-gl-01")


def test_binary_cloudevent_picks_the_contract_by_type() -> None:
    event = translate_message(json.dumps({"summary": "4.2.2"}).encode(), CE, received_at=RECEIVED)
    assert isinstance(event, ChangeEvent)
    assert (event.id, event.ci_id, event.source) == ("c-1", "app-gl-01", "urn:deploy:50%/eu")


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (None, [], "message has no value"),
        (b"\xff\xfe", [], "not valid JSON"),
        (b"[1, 2]", [], "expected a telemetry event object"),
        (b'{"ci_id": "a", "state": "ok", "stat": "x"}', [], "/stat"),
        (b"{}", CE[:1], "header ce_id: required"),
        (b"{}", [*CE[:4], ("ce_specversion", b"0.3")], "header ce_specversion"),
    ],
)
def test_poison_is_refused_with_a_reason(value: bytes | None, headers: list, reason: str) -> None:
    with pytest.raises(RawMessageInvalid, match=reason):
        translate_message(value, headers, received_at=RECEIVED)


def test_dead_letter_headers_carry_reason_source_and_origin() -> None:
    letter = DeadLetter(
        reason="x" * 5000,
        source="ingest/raw",
        payload="{}",
        original_topic="raw",
        original_partition=2,
        original_offset=41,
        time=RECEIVED,
    )
    headers = letter_headers(letter)
    assert len(headers["dl_reason"]) == 1000
    assert (headers["dl_source"], headers["dl_original_topic"]) == ("ingest/raw", "raw")
    assert (headers["dl_original_partition"], headers["dl_original_offset"]) == ("2", "41")
