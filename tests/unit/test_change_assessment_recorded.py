"""A planned change recorded with its assessment keeps it into the incident that follows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_correlation_support import DOWN, change, engine, telemetry

from impactline.core.contracts import ChangeAssessmentSummary
from impactline.core.correlation.incident import Incident
from impactline.core.delivery import IncidentContext, explain, from_alert
from impactline.core.states import State
from impactline.core.whatif import Condition, WhatIfModel
from impactline.core.whatif.change_risk import ChangePlan, assess_change
from impactline.core.whatif.documents import assessment_document
from impactline.core.whatif.hindsight import weigh
from impactline.ingest.adapters.changes import translate
from impactline.ingest.adapters.errors import AdapterError
from tests.delivery_cases import month_end
from tests.time_scenarios import CALENDARS, CATALOG, ROUTING, SCORING

MODEL = WhatIfModel(CATALOG, CALENDARS, SCORING, ROUTING, catalog_version=7)
CLOSE_DAY = datetime(2026, 11, 30, 10, tzinfo=UTC)
ASSESSED_AT = datetime(2026, 11, 23, 9, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 30, 10, 1, tzinfo=UTC)


def summary(worst: float, expected: float, **more: object) -> ChangeAssessmentSummary:
    return ChangeAssessmentSummary(
        start=CLOSE_DAY,
        end=CLOSE_DAY + timedelta(hours=2),
        worst_case_business_impact_minutes=worst,
        expected_business_impact_minutes=expected,
        **more,  # type: ignore[arg-type]
    )


def test_the_assess_answer_passed_along_as_is_is_kept_as_its_figures() -> None:
    plan = ChangePlan(
        (Condition("db-gl-01", State.DOWN),), CLOSE_DAY, timedelta(hours=2), risk=0.25, days=2
    )
    found = assess_change(MODEL, plan, ASSESSED_AT)
    answer = assessment_document(found, assessed_at=ASSESSED_AT, catalog_version=7)
    # Through JSON, as a client would pass it: the whole answer, simulation and options included.
    record = {
        "ci_id": "db-gl-01",
        "summary": "gl-ledger 4.2.1",
        "time": "2026-11-30T10:00:00Z",
        "assessment": json.loads(answer.model_dump_json()),
    }
    [event] = translate(record, received_at=RECEIVED).accepted
    kept = event.assessment
    assert kept is not None
    assert kept.worst_case_business_impact_minutes == pytest.approx(found.worst_case_minutes)
    assert kept.expected_business_impact_minutes == pytest.approx(0.25 * found.worst_case_minutes)
    assert (kept.start, kept.end) == (CLOSE_DAY, CLOSE_DAY + timedelta(hours=2))
    assert kept.periods == answer.periods and any("month-end" in p for p in kept.periods)
    assert (kept.risk, kept.assessed_at, kept.catalog_version) == (0.25, ASSESSED_AT, 7)
    assert kept.worst_priority == "P1"
    # Only the figures travel: the curve and the options stay behind.
    assert len(event.model_dump_json()) < 2000


@pytest.mark.parametrize(
    ("assessment", "pointer", "words"),
    [
        ({"start": "2026-11-30T10:00:00Z"}, "/assessment/end", "required"),
        (
            {
                "start": "2026-11-30T10:00:00Z",
                "end": "2026-11-30T12:00:00Z",
                "worst_case_busines_impact_minutes": 5,
            },
            "/assessment/worst_case_busines_impact_minutes",
            "unknown field",
        ),
        (
            {
                "start": "2026-11-30T12:00:00Z",
                "end": "2026-11-30T10:00:00Z",
                "worst_case_business_impact_minutes": 5,
                "expected_business_impact_minutes": 1,
            },
            "/assessment",
            "end after it starts",
        ),
        ("88290", "/assessment", "an assessment object"),
        (
            # 1e400 parses as infinity, which JSON cannot carry on to the topic.
            {
                "start": "2026-11-30T10:00:00Z",
                "end": "2026-11-30T12:00:00Z",
                "worst_case_business_impact_minutes": json.loads("1e400"),
                "expected_business_impact_minutes": 1,
            },
            "/assessment/worst_case_business_impact_minutes",
            "finite number",
        ),
    ],
)
def test_a_bad_assessment_is_refused_naming_the_field(
    assessment: object, pointer: str, words: str
) -> None:
    with pytest.raises(AdapterError) as bad:
        translate({"ci_id": "db-gl-01", "assessment": assessment}, received_at=RECEIVED)
    assert bad.value.pointer == pointer
    assert words in str(bad.value)


def test_the_assessment_follows_the_change_into_the_incident_s_suspects() -> None:
    e = engine()
    assessed = summary(88290, 22072.5, risk=0.25)
    plain = change("db-gl-01", -300, change_id="deploy-db")
    e.record_change(plain.model_copy(update={"assessment": assessed}))
    e.record_change(change("db-gl-01", -200, change_id="unassessed"))
    events = e.process(telemetry("db-gl-01", DOWN, 0)).incident_events
    suspects = {s.change_id: s for s in events[0].suspect_changes}
    assert suspects["deploy-db"].assessment == assessed
    assert suspects["unassessed"].assessment is None
    # The incident's checkpoint keeps it: a restarted worker still publishes it.
    [incident] = e.incidents()
    restored = Incident.from_dict(json.loads(json.dumps(incident.to_dict())))
    assert {s.change_id: s.assessment for s in restored.suspect_changes} == {
        "deploy-db": assessed,
        "unassessed": None,
    }


def test_the_note_sets_the_incident_against_the_assessed_worst_case() -> None:
    assessed = summary(
        88290,
        22072.5,
        risk=0.25,
        periods=["month-end-close x3"],
        assessed_at=ASSESSED_AT,
    )
    within = weigh(assessed, 4414.5)
    assert within.share_of_worst_case == pytest.approx(0.05)
    assert not within.beyond_worst_case
    assert within.note == (
        "assessed worst case 88,290 business impact minutes (expected 22,072 at a 25% risk) "
        "for 2026-11-30 10:00-12:00 UTC, crossing month-end-close x3, assessed "
        "2026-11-23 09:00 UTC; this incident so far 4,414 (5% of the worst case)"
    )
    beyond = weigh(assessed, 176580)
    assert beyond.beyond_worst_case
    assert beyond.note.endswith("this incident so far 176,580, 2.0x the assessed worst case")
    nothing = weigh(summary(0, 0), 12)
    assert nothing.share_of_worst_case is None and nothing.beyond_worst_case
    assert nothing.note.endswith("this incident so far 12, where the assessment expected none")


def test_a_notification_names_the_suspect_change_s_assessed_worst_case() -> None:
    case = month_end()
    [suspect] = case.opened.suspect_changes
    assessed = suspect.model_copy(update={"assessment": summary(88290, 22072.5, risk=0.25)})
    context = IncidentContext(
        incident_id=case.incident_id,
        state="open",
        affected_services=("financial-close",),
        root_cause_candidates=("db-gl-01",),
        suspect_changes=(assessed,),
    )
    text = explain(from_alert(case.alert), context, None, None).text()
    assert (
        "Suspect changes: configuration on db-gl-01 at 2026-11-30 09:53 UTC: raised work_mem "
        "on the ledger database (assessed worst case 88,290 business impact minutes, "
        "expected 22,072)"
    ) in text, text
