"""PagerDuty Events API v2 bodies: trigger, acknowledge and resolve, answered the PagerDuty way."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, pagerduty
from impactline.ingest.adapters.pagerduty import PagerDutyOptions

FIXTURES = Path(__file__).parents[1] / "fixtures" / "adapters"
RECEIVED = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_trigger_reports_the_component_down_with_its_details() -> None:
    result = pagerduty.translate(load("pagerduty_trigger.json"), received_at=RECEIVED)
    [event] = result.accepted
    assert (event.ci_id, event.state) == ("db-gl-01", State.DOWN)
    assert event.summary == "db-gl-01: p99 query latency 4.2s above 500ms"
    assert event.time == datetime(2026, 11, 30, 9, 58, 12, 481000, tzinfo=UTC)
    assert event.source == "pagerduty"
    assert event.attributes["pagerduty.dedup_key"] == "gl-ledger/db-gl-01/latency"
    assert event.attributes["pagerduty.group"] == "gl-ledger"
    assert event.attributes["pagerduty.details.p99_seconds"] == "4.2"
    assert event.attributes["pagerduty.details.primary"] == "true"
    assert "pagerduty.details.replica_lag" not in event.attributes  # nested: left out
    assert pagerduty.success_response(result.dedup_key) == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "gl-ledger/db-gl-01/latency",
    }


@pytest.mark.parametrize(
    ("severity", "state"),
    [
        ("critical", State.DOWN),
        ("error", State.DOWN),
        ("warning", State.DEGRADED),
        ("info", State.DEGRADED),
    ],
)
def test_severity_sets_the_state(severity: str, state: State) -> None:
    body = load("pagerduty_trigger.json")
    body["payload"]["severity"] = severity
    assert pagerduty.translate(body, received_at=RECEIVED).accepted[0].state == state


def test_severity_mapping_is_configurable() -> None:
    body = load("pagerduty_trigger.json")
    body["payload"]["severity"] = "info"
    options = PagerDutyOptions(severity_states={"info": State.OK})
    assert pagerduty.translate(body, options, received_at=RECEIVED).accepted[0].state == State.OK


def test_without_a_component_the_source_names_the_ci() -> None:
    body = load("pagerduty_trigger.json")
    del body["payload"]["component"]
    [event] = pagerduty.translate(body, received_at=RECEIVED).accepted
    assert event.ci_id == "db-gl-01.finance.example.com"


def test_acknowledge_produces_no_telemetry_and_says_so() -> None:
    result = pagerduty.translate(load("pagerduty_acknowledge.json"), received_at=RECEIVED)
    assert result.accepted == [] and result.action == "acknowledge"
    assert result.notes and result.notes[0].startswith("acknowledged")
    assert result.dedup_key == "gl-ledger/db-gl-01/latency"


def test_resolve_reports_the_ci_ok() -> None:
    [event] = pagerduty.translate(load("pagerduty_resolve.json"), received_at=RECEIVED).accepted
    assert (event.ci_id, event.state) == ("db-gl-01", State.OK)
    assert event.time == datetime(2026, 11, 30, 10, 26, 57, tzinfo=UTC)


def test_a_bare_resolve_asks_the_caller_which_ci_the_dedup_key_belongs_to() -> None:
    body = load("pagerduty_resolve_bare.json")
    with pytest.raises(AdapterError) as caught:
        pagerduty.translate(body, received_at=RECEIVED)
    assert caught.value.pointer == "/payload" and "payload.component" in caught.value.message
    known = {"gl-ledger/db-gl-01/latency": "db-gl-01"}
    [event] = pagerduty.translate(body, received_at=RECEIVED, ci_for_dedup_key=known.get).accepted
    assert (event.ci_id, event.state, event.time) == ("db-gl-01", State.OK, RECEIVED)


def test_ids_are_stable_per_dedup_key_action_and_timestamp() -> None:
    trigger = pagerduty.translate(load("pagerduty_trigger.json"), received_at=RECEIVED)
    resent = pagerduty.translate(
        load("pagerduty_trigger.json"), received_at=RECEIVED + timedelta(hours=1)
    )
    resolve = pagerduty.translate(load("pagerduty_resolve.json"), received_at=RECEIVED)
    assert trigger.accepted[0].id == resent.accepted[0].id
    assert trigger.accepted[0].id != resolve.accepted[0].id


def test_a_trigger_without_dedup_key_gets_a_stable_one_to_resolve_with() -> None:
    body = load("pagerduty_trigger.json")
    del body["dedup_key"]
    first = pagerduty.translate(body, received_at=RECEIVED)
    again = pagerduty.translate(body, received_at=RECEIVED)
    assert first.dedup_key == again.dedup_key
    assert first.accepted[0].attributes["pagerduty.dedup_key"] == first.dedup_key


@pytest.mark.parametrize(
    ("name", "mutate", "pointer"),
    [
        ("pagerduty_trigger.json", lambda b: b.pop("routing_key"), "/routing_key"),
        ("pagerduty_trigger.json", lambda b: b.update(event_action="escalate"), "/event_action"),
        ("pagerduty_trigger.json", lambda b: b.pop("payload"), "/payload"),
        ("pagerduty_trigger.json", lambda b: b["payload"].pop("summary"), "/payload/summary"),
        ("pagerduty_trigger.json", lambda b: b["payload"].pop("source"), "/payload/source"),
        (
            "pagerduty_trigger.json",
            lambda b: b["payload"].update(severity="high"),
            "/payload/severity",
        ),
        (
            "pagerduty_trigger.json",
            lambda b: b["payload"].update(timestamp="now"),
            "/payload/timestamp",
        ),
        (
            "pagerduty_trigger.json",
            lambda b: b["payload"].update(component="db gl 01"),
            "/payload/component",
        ),
        ("pagerduty_trigger.json", lambda b: b.update(dedup_key="k" * 256), "/dedup_key"),
        ("pagerduty_acknowledge.json", lambda b: b.pop("dedup_key"), "/dedup_key"),
        ("pagerduty_resolve.json", lambda b: b.update(dedup_key=" "), "/dedup_key"),
    ],
)
def test_an_invalid_event_names_the_field(name: str, mutate: Any, pointer: str) -> None:
    body = load(name)
    mutate(body)
    with pytest.raises(AdapterError) as caught:
        pagerduty.translate(body, received_at=RECEIVED)
    assert caught.value.pointer == pointer
    answer = pagerduty.error_response(caught.value)
    assert answer["status"] == "invalid event"
    assert answer["errors"][0].startswith(pointer + ":")
