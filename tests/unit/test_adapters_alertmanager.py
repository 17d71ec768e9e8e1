"""Alertmanager webhooks: each alert becomes telemetry on the CI its labels name."""

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, alertmanager
from impactline.ingest.adapters.alertmanager import AlertmanagerOptions

RECEIVED = datetime(2026, 11, 30, 10, tzinfo=UTC)

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_firing_alerts_map_severity_to_state_on_the_labelled_ci() -> None:
    result = alertmanager.translate(load("alertmanager_firing.json"))
    assert result.rejected == []
    down, degraded = result.accepted
    assert (down.ci_id, down.state) == ("db-gl-01", State.DOWN)
    assert down.summary == "p99 query latency on db-gl-01 is 4.2s (threshold 500ms)"
    assert down.time == datetime(2026, 11, 30, 9, 58, 12, 481930, tzinfo=UTC)
    assert down.source == "alertmanager"
    assert down.attributes["alertmanager.fingerprint"] == "4f1a7c9e02b3d815"
    assert down.attributes["team"] == "finance"
    # No `ci` label: the instance label names the CI, the description stands in for a summary.
    assert (degraded.ci_id, degraded.state) == ("app-gl-02:9100", State.DEGRADED)
    assert degraded.summary.startswith("Connection pool wait time")


def test_resolved_alert_is_ok_at_its_end_time() -> None:
    [event] = alertmanager.translate(load("alertmanager_resolved.json")).accepted
    assert (event.ci_id, event.state) == ("db-gl-01", State.OK)
    assert event.time == datetime(2026, 11, 30, 10, 26, 57, 113402, tzinfo=UTC)


def test_a_resent_webhook_yields_the_same_ids_and_resolution_a_new_one() -> None:
    first = alertmanager.translate(load("alertmanager_firing.json")).accepted
    again = alertmanager.translate(load("alertmanager_firing.json")).accepted
    resolved = alertmanager.translate(load("alertmanager_resolved.json")).accepted
    assert [e.id for e in first] == [e.id for e in again]
    assert len({e.id for e in first}) == 2
    assert resolved[0].id not in {e.id for e in first}


def test_an_alert_without_a_ci_label_keeps_its_alert_name_as_the_key() -> None:
    # An aggregated alert keeps only the labels it was aggregated by; binding rules over them
    # (a template of namespace and deployment) find the CI, so the alert must not be refused.
    body = load("alertmanager_firing.json")
    body["alerts"] = [
        {
            **body["alerts"][0],
            "labels": {
                "alertname": "KubeDeploymentReplicasMismatch",
                "namespace": "erp",
                "deployment": "gl-api",
                "severity": "warning",
            },
        }
    ]
    [event] = alertmanager.translate(body).accepted
    assert event.ci_id == "KubeDeploymentReplicasMismatch"
    assert event.attributes["deployment"] == "gl-api"


def test_an_alert_without_any_naming_label_is_rejected_and_the_rest_accepted() -> None:
    result = alertmanager.translate(load("alertmanager_unlabelled.json"))
    assert [e.ci_id for e in result.accepted] == ["sftp-payroll-01"]
    [(index, error)] = result.rejected
    assert index == 0 and error.pointer == "/alerts/0/labels"
    assert "ci, ci_id, instance, service, job" in error.message
    assert any("left 2 alert(s) out" in note for note in result.notes)


def test_ci_labels_and_severities_are_configurable() -> None:
    options = AlertmanagerOptions(
        ci_labels=("team",), severity_states={"critical": State.DEGRADED}, default_state=State.DOWN
    )
    down, degraded = alertmanager.translate(load("alertmanager_firing.json"), options).accepted
    assert (down.ci_id, down.state) == ("finance", State.DEGRADED)
    assert degraded.state == State.DOWN  # "warning" is no longer mapped


def test_unknown_severity_counts_as_degraded_by_default() -> None:
    body = load("alertmanager_firing.json")
    body["alerts"][0]["labels"]["severity"] = "page"
    assert alertmanager.translate(body).accepted[0].state == State.DEGRADED


def test_a_ci_label_that_is_not_an_identifier_is_named() -> None:
    body = load("alertmanager_firing.json")
    body["alerts"][1]["labels"]["instance"] = "app gl 02"
    [(index, error)] = alertmanager.translate(body).rejected
    assert (index, error.pointer) == (1, "/alerts/1/labels/instance")


@pytest.mark.parametrize(
    ("mutate", "pointer", "text"),
    [
        (lambda b: b.update(version="3"), "/version", "unsupported"),
        (lambda b: b.pop("alerts"), "/alerts", "missing"),
        (lambda b: b.update(alerts=[]), "/alerts", "no alerts"),
        (lambda b: b.update(alerts={"a": 1}), "/alerts", "array"),
    ],
)
def test_a_malformed_envelope_raises(mutate: Any, pointer: str, text: str) -> None:
    body = load("alertmanager_firing.json")
    mutate(body)
    with pytest.raises(AdapterError) as caught:
        alertmanager.translate(body)
    assert caught.value.pointer == pointer and text in caught.value.message


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("status", "pending", "/alerts/0/status"),
        ("startsAt", "yesterday", "/alerts/0/startsAt"),
        ("startsAt", "2026-11-30T09:58:12", "/alerts/0/startsAt"),
        ("labels", {"ci": 7}, "/alerts/0/labels/ci"),
        ("endsAt", 1700000000, "/alerts/0/endsAt"),
    ],
)
def test_a_bad_alert_field_is_named(field: str, value: Any, pointer: str) -> None:
    body = copy.deepcopy(load("alertmanager_firing.json"))
    body["alerts"][0][field] = value
    result = alertmanager.translate(body)
    assert [(i, e.pointer) for i, e in result.rejected] == [(0, pointer)]
    assert len(result.accepted) == 1


def test_rejected_alerts_become_dead_letters_with_the_alert_as_sent() -> None:
    result = alertmanager.translate(load("alertmanager_unlabelled.json"))
    [letter] = result.dead_letters("ingest/alertmanager", time=RECEIVED)
    assert json.loads(letter.payload)["fingerprint"] == "0c55e1a9b7d24e36"
    assert "/alerts/0/labels" in letter.reason
