"""Maintenance windows and silences: no incident opens, the failure is kept and annotated."""

from __future__ import annotations

import pytest
from test_correlation_support import DOWN, OK, T0, actions, at, engine, telemetry

from impactline.core.contracts import IncidentAction
from impactline.core.correlation import Note, Suppressions, SuppressionsInvalid

A = IncidentAction


def window(starts: float, ends: float, **targets: list[str]) -> Suppressions:
    return Suppressions.from_mapping(
        {
            "maintenance_windows": [
                {
                    "id": "gl-db-patching",
                    "starts_at": at(starts).isoformat(),
                    "ends_at": at(ends).isoformat(),
                    "comment": "quarterly patching",
                    **targets,
                }
            ]
        }
    )


def test_a_maintenance_window_suppresses_opening_but_keeps_the_event_annotated() -> None:
    e = engine(suppressions=window(-60, 600, cis=["db-gl-*"]))
    result = e.process(telemetry("db-gl-01", DOWN, 0))
    assert result.incident_events == []
    assert [c.ci_id for c in result.ci_changes] == ["db-gl-01"]  # still passed on
    [note] = result.annotations
    assert note.note is Note.SILENCED
    assert note.silenced_by == f"maintenance window gl-db-patching until {at(600).isoformat()}"
    assert note.cause_event_id == result.outcomes[-1].event_id
    assert e.incidents() == []


def test_effects_of_a_ci_under_maintenance_are_suppressed_with_it() -> None:
    e = engine(suppressions=window(-60, 600, cis=["db-gl-01"]))
    e.process(telemetry("db-gl-01", DOWN, 0))
    result = e.process(telemetry("web-close", DOWN, 20))
    assert result.incident_events == []
    assert result.annotations[0].silenced_by is not None
    assert result.annotations[0].silenced_by.startswith("depends on db-gl-01, covered by ")
    # an unrelated failure in the same domain still opens an incident
    assert [ev.action for ev in e.process(telemetry("sso-01", DOWN, 30)).incident_events] == [
        A.OPENED
    ]


def test_a_failure_that_outlasts_its_window_opens_an_incident_when_the_window_ends() -> None:
    e = engine(suppressions=window(-60, 600, cis=["db-gl-01"]))
    e.process(telemetry("db-gl-01", DOWN, 0))
    e.process(telemetry("web-close", DOWN, 20))
    assert e.tick(at(599)).incident_events == []
    events = e.tick(at(700)).incident_events
    assert [ev.action for ev in events] == [A.OPENED, A.UPDATED]
    assert events[-1].time == at(600)
    assert events[-1].member_cis == ["db-gl-01", "web-close"]
    assert events[-1].root_cause_candidates == ["db-gl-01"]


def test_a_failure_that_recovers_inside_the_window_never_opens_anything() -> None:
    e = engine(suppressions=window(-60, 600, cis=["db-gl-01"]))
    e.process(telemetry("db-gl-01", DOWN, 0))
    e.process(telemetry("db-gl-01", OK, 300))
    assert e.tick(at(5000)).incident_events == []
    assert e.incidents() == []


def test_a_window_that_has_not_started_or_has_ended_suppresses_nothing() -> None:
    for starts, ends in [(100, 200), (-200, -100)]:
        e = engine(suppressions=window(starts, ends, cis=["db-gl-01"]))
        assert [ev.action for ev in e.process(telemetry("db-gl-01", DOWN, 0)).incident_events] == [
            A.OPENED
        ]


def test_a_service_silence_holds_only_when_every_affected_service_is_silenced() -> None:
    silence = Suppressions.from_mapping(
        {
            "silences": [
                {
                    "id": "payroll-known-issue",
                    "services": ["payroll"],
                    "expires_at": at(3600).isoformat(),
                    "created_by": "alice",
                }
            ]
        }
    )
    e = engine(suppressions=silence)
    quiet = e.process(telemetry("pay-app", DOWN, 0))
    assert quiet.incident_events == []
    assert quiet.annotations[0].silenced_by == (
        "every affected service is suppressed: silence payroll-known-issue by alice until "
        f"{at(3600).isoformat()}"
    )
    # db-gl-01 affects services nobody silenced
    assert actions(e.process(telemetry("db-gl-01", DOWN, 0)).incident_events)[0][0] is A.OPENED


def test_a_silence_joins_nothing_but_does_not_stop_a_member_from_joining() -> None:
    silence = Suppressions.from_mapping(
        {"silences": [{"id": "s1", "cis": ["web-*"], "expires_at": at(3600).isoformat()}]}
    )
    e = engine(suppressions=silence)
    opened = e.process(telemetry("db-gl-01", DOWN, 0)).incident_events[0]
    joined = e.process(telemetry("web-close", DOWN, 10))
    assert actions(joined.incident_events) == [(A.UPDATED, opened.incident_id)]
    assert joined.annotations[0].note is Note.JOINED


def test_suppressions_load_from_yaml_and_expire() -> None:
    text = f"""
maintenance_windows:
  - id: patching
    starts_at: {at(0).isoformat()}
    ends_at: {at(600).isoformat()}
    cis: [db-*]
silences:
  - id: noisy
    services: [payroll]
    expires_at: {at(60).isoformat()}
"""
    loaded = Suppressions.from_yaml(text, "suppressions.yaml")
    assert [s.id for s in loaded.active_at(at(30))] == ["patching", "noisy"]
    assert [s.id for s in loaded.without_expired(at(60)).all()] == ["patching"]
    assert loaded.match("db-pay-01", ["payroll"], at(30)) is not None
    assert loaded.match("pay-app", ["payroll"], at(61)) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "silences:\n  - id: x\n    cis: [a]\n",
            "suppressions.yaml: silences.0.expires_at: Field required",
        ),
        (
            f"maintenance_windows:\n  - id: w\n    cis: [a]\n    starts_at: {T0.isoformat()}\n"
            f"    ends_at: {T0.isoformat()}\n",
            "maintenance_windows.0: ends_at",
        ),
        (
            f"silences:\n  - id: x\n    expires_at: {T0.isoformat()}\n",
            "name at least one CI or business service",
        ),
        (
            "silences:\n  - id: x\n    cis: [a]\n    expires_at: 2026-11-12T10:00:00\n",
            "time zone",
        ),
        (
            f"silences:\n  - {{id: x, cis: [a], expires_at: '{T0.isoformat()}'}}\n"
            f"  - {{id: x, cis: [b], expires_at: '{T0.isoformat()}'}}\n",
            "id 'x' is used twice",
        ),
        ("silences: [\n", "not valid YAML"),
    ],
)
def test_a_bad_suppression_file_names_the_file_the_path_and_the_rule(
    text: str, expected: str
) -> None:
    with pytest.raises(SuppressionsInvalid) as caught:
        Suppressions.from_yaml(text, "suppressions.yaml")
    assert expected in str(caught.value)
    assert str(caught.value).startswith("suppressions.yaml: ")
