"""Re-validating dead letters: each goes back through the input it came from."""

import json
from datetime import UTC, datetime

import pytest

from impactline.core import topics
from impactline.core.contracts import ChangeEvent, DeadLetter, FeedbackEvent, TelemetryEvent
from impactline.ingest.dlq import ReplayInvalid, revalidate

LETTERED = datetime(2026, 11, 30, 10, tzinfo=UTC)
EVENT = json.dumps(
    {"id": "e1", "ci_id": "db-gl-01", "state": "down", "time": "2026-11-30T09:59:00Z"}
)


def letter(source: str, payload: str, **extra: object) -> DeadLetter:
    return DeadLetter(reason="earlier", source=source, payload=payload, time=LETTERED, **extra)  # type: ignore[arg-type]


def test_http_items_go_through_their_format() -> None:
    ((topic, key, event),) = revalidate(letter("ingest/native", EVENT))
    assert (topic, key, event.id) == (topics.TELEMETRY, "db-gl-01", "e1")

    alert = {
        "version": "4",
        "alerts": [
            {"status": "firing", "labels": {"ci": "db-gl-01"}, "startsAt": "2026-11-30T10:00:00Z"}
        ],
    }
    ((topic, _, event),) = revalidate(letter("ingest/alertmanager", json.dumps(alert)))
    assert topic is topics.TELEMETRY and isinstance(event, TelemetryEvent)

    structured = {
        "specversion": "1.0",
        "id": "c1",
        "source": "s",
        "type": topics.CHANGES.ce_type,
        "data": {"ci_id": "app-gl-01"},
    }
    ((topic, key, event),) = revalidate(
        letter(
            "ingest/cloudevents",
            json.dumps(structured),
            original_headers={"content-type": "application/cloudevents-batch+json"},
        )
    )
    assert (topic, key) == (topics.CHANGES, "app-gl-01") and isinstance(event, ChangeEvent)

    produced = revalidate(letter("ingest/changes", json.dumps({"ci_ids": ["a", "b"]})))
    assert [(t, k) for t, k, _ in produced] == [(topics.CHANGES, "a"), (topics.CHANGES, "b")]


def test_ids_a_sender_left_out_are_the_same_on_every_replay() -> None:
    fb = letter("ingest/feedback", json.dumps({"service_id": "payroll", "csat": 3}))
    first = revalidate(fb)[0][2]
    assert isinstance(first, FeedbackEvent)
    assert revalidate(fb)[0][2].id == first.id


def test_raw_and_worker_letters_go_back_to_their_topics() -> None:
    ((topic, _, _),) = revalidate(letter("ingest/raw", EVENT, original_topic="p.raw"), "p.")
    assert topic is topics.TELEMETRY
    ((topic, key, _),) = revalidate(letter("correlate", EVENT, original_topic="p.telemetry"), "p.")
    assert (topic, key) == (topics.TELEMETRY, "db-gl-01")


@pytest.mark.parametrize(
    ("dead", "reason"),
    [
        (letter("ingest/native", '{"ci_id": "db gl", "state": "ok"}'), "ci_id"),
        (letter("ingest/native", "{broken"), "not valid JSON"),
        (letter("ingest/raw", "", original_topic="raw"), "JSON"),
        (letter("api/x", EVENT, original_topic="nowhere"), "cannot replay"),
    ],
)
def test_what_is_still_invalid_says_why(dead: DeadLetter, reason: str) -> None:
    with pytest.raises(ReplayInvalid, match=reason):
        revalidate(dead)
