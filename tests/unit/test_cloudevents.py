import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from impactline.core import cloudevents, topics
from impactline.core.contracts import EVENT_NAMESPACE, TelemetryEvent, derived_id
from impactline.core.states import State


def event() -> TelemetryEvent:
    return TelemetryEvent(
        id="evt-1", ci_id="db-gl-01", state=State.DOWN, time=datetime(2026, 11, 30, 10, tzinfo=UTC)
    )


def test_binary_mode_round_trip_keeps_attributes_and_trace_context() -> None:
    tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    value, headers = cloudevents.encode(
        topics.TELEMETRY,
        event(),
        source="test",
        subject="db-gl-01",
        extra_headers={"traceparent": tp},
    )
    attrs = dict(headers)
    assert attrs["ce_specversion"] == b"1.0"
    assert attrs["ce_id"] == b"evt-1"
    assert attrs["ce_type"] == b"io.impactline.telemetry.v1"
    assert attrs["ce_time"] == b"2026-11-30T10:00:00+00:00"
    assert attrs["content-type"] == b"application/json"
    decoded = cloudevents.decode(topics.TELEMETRY, value, headers)
    assert decoded.event == event()
    assert decoded.traceparent == tp


def test_event_of_another_topic_is_refused_with_the_reason() -> None:
    value, headers = cloudevents.encode(topics.TELEMETRY, event(), source="test")
    with pytest.raises(cloudevents.DecodeError, match="does not belong on topic 'changes'"):
        cloudevents.decode(topics.CHANGES, value, headers)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"not json", "Invalid JSON"),
        (b'{"ci_id": "db-gl-01"}', "state: Field required"),
        (b'{"ci_id": "db-gl-01", "state": "melted"}', "state: Input should be"),
        (None, "no value"),
    ],
)
def test_poison_messages_name_what_is_wrong(value: bytes | None, reason: str) -> None:
    with pytest.raises(cloudevents.DecodeError, match=reason):
        cloudevents.decode(topics.TELEMETRY, value, [])


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        TelemetryEvent(ci_id="x", state=State.OK, time=datetime(2026, 11, 30, 10))


def test_derived_ids_are_stable_and_distinct() -> None:
    assert derived_id("a", "b") == derived_id("a", "b")
    assert derived_id("a", "b") != derived_id("ab")


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_derived_ids_are_the_name_based_uuids_of_their_parts(parts: list[str]) -> None:
    # Sinks deduplicate by these ids across releases: the fast computation must give exactly
    # the version 5 UUID it always gave.
    expected = str(uuid.uuid5(EVENT_NAMESPACE, "\x1f".join(parts)))
    assert derived_id(*parts) == expected
