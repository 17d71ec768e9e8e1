"""User feedback: a CSAT score and/or a comment about one business service."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.ingest.adapters import AdapterError, feedback

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"
RECEIVED = datetime(2026, 11, 30, 9, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_a_survey_response_keeps_score_comment_and_user() -> None:
    [event] = feedback.translate(load("feedback_batch.json")[0], received_at=RECEIVED).accepted
    assert (event.id, event.service_id, event.csat) == ("survey-7781-u-20431", "financial-close", 2)
    assert event.comment == "Posting journals took ages this morning"
    assert (event.user_id, event.source) == ("u-20431", "in-app-survey")
    assert event.time == datetime(2026, 11, 30, 8, 40, tzinfo=UTC)


def test_a_batch_accepts_scores_and_rejects_bad_ones_by_index() -> None:
    result = feedback.translate(load("feedback_batch.json"), received_at=RECEIVED)
    assert [(e.service_id, e.csat) for e in result.accepted] == [
        ("financial-close", 2),
        ("payroll", 5),
    ]
    assert result.accepted[1].time == RECEIVED and result.accepted[1].source == "feedback"
    assert [(i, e.pointer) for i, e in result.rejected] == [(2, "/2/csat"), (3, "/3")]
    assert "1 to 5" in result.rejected[0][1].message
    assert "csat score" in result.rejected[1][1].message


def test_submissions_without_an_id_are_distinct_events() -> None:
    body = {"service_id": "payroll", "csat": 5, "time": "2026-11-30T09:00:00Z"}
    first, second = (feedback.translate(body, received_at=RECEIVED).accepted[0] for _ in range(2))
    assert first.id != second.id


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"csat": 3}, "/service_id"),
        ({"service_id": "payroll", "csat": True}, "/csat"),
        ({"service_id": "payroll", "csat": 4.5}, "/csat"),
        ({"service_id": "payroll", "csat": "4"}, "/csat"),
        ({"service_id": "payroll", "csat": 0}, "/csat"),
        ({"service_id": "pay roll", "csat": 3}, "/service_id"),
        ({"service_id": "payroll", "comment": "x" * 5001}, "/comment"),
        ({"service_id": "payroll", "csat": 3, "rating": 3}, "/rating"),
        ({"service_id": "payroll", "csat": 3, "time": "2026-11-30T09:00:00"}, "/time"),
        ({"service_id": "payroll", "csat": 3, "id": ""}, "/id"),
        ({"service_id": "payroll"}, ""),
    ],
)
def test_invalid_feedback_names_the_field(body: dict[str, Any], pointer: str) -> None:
    with pytest.raises(AdapterError) as caught:
        feedback.translate(body, received_at=RECEIVED)
    assert caught.value.pointer == pointer
