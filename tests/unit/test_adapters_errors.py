"""What ingest shows a client about a rejected input: RFC 6901 pointers and problem entries."""

from datetime import UTC, datetime

from impactline.core.contracts import ChangeEvent, FeedbackEvent, TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, Translation, destination
from impactline.ingest.adapters.errors import pointer


def test_keys_with_slash_and_tilde_are_escaped() -> None:
    assert pointer("labels", "a/b~c", 3) == "/labels/a~1b~0c/3"
    assert pointer() == ""


def test_problem_entries_name_the_field_behind_the_pointer() -> None:
    error = AdapterError("/alerts/0/labels/team~1name", "expected a string", also=[("/3", "bad")])
    assert error.fields() == [
        {
            "pointer": "/alerts/0/labels/team~1name",
            "field": "team/name",
            "detail": "expected a string",
        },
        {"pointer": "/3", "field": "(body)", "detail": "bad"},
    ]
    assert str(error) == "/alerts/0/labels/team~1name: expected a string"


def test_header_errors_name_the_header_instead_of_a_pointer() -> None:
    error = AdapterError("", "required CloudEvents attribute is missing", header="ce-id")
    assert error.fields() == [
        {"header": "ce-id", "field": "ce-id", "detail": "required CloudEvents attribute is missing"}
    ]
    assert str(error).startswith("header ce-id:")


def test_rejections_carry_their_index_into_the_problem_entries() -> None:
    result: Translation[TelemetryEvent] = Translation()
    result.reject(2, AdapterError("/2/state", "missing"), {"ci_id": "a"})
    assert result.rejection_fields() == [
        {"index": 2, "pointer": "/2/state", "field": "state", "detail": "missing"}
    ]
    [letter] = result.dead_letters("ingest", time=datetime(2026, 11, 30, tzinfo=UTC))
    assert (letter.payload, letter.reason) == ('{"ci_id":"a"}', "/2/state: missing")


def test_each_event_goes_to_its_topic_keyed_for_correlation() -> None:
    at = datetime(2026, 11, 30, tzinfo=UTC)
    events = [
        TelemetryEvent(ci_id="db-gl-01", state=State.DOWN, time=at),
        ChangeEvent(ci_id="app-gl-01", time=at),
        FeedbackEvent(service_id="payroll", csat=4, time=at),
    ]
    assert [(t.name, k) for t, k in map(destination, events)] == [
        ("telemetry", "db-gl-01"),
        ("changes", "app-gl-01"),
        ("feedback", "payroll"),
    ]
