"""Webhook mappings: the shipped ones read what Grafana, Uptime Kuma and Zabbix post (payloads
written from each tool's documentation), foreign CloudEvents map the same way, and broken
mapping files are reported with file, path and line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.core.contracts import TelemetryEvent
from impactline.core.states import State
from impactline.ingest.adapters import AdapterError, webhook
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.webhooks import MappingsInvalid, WebhookMappings, load_mappings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shipped() -> WebhookMappings:
    return load_mappings([ROOT / "deploy" / "webhooks"])


def payload(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def mapped(shipped: WebhookMappings, mapping: str, name: str) -> webhook.Translation[Any]:
    return webhook.translate(payload(name), shipped.by_name[mapping], received_at=RECEIVED)


def test_the_shipped_mappings_are_grafana_uptime_kuma_and_zabbix(shipped: WebhookMappings) -> None:
    assert sorted(shipped.by_name) == ["grafana", "uptime-kuma", "zabbix"]


def test_grafana_alerts_become_events_with_severity_states_and_labels(
    shipped: WebhookMappings,
) -> None:
    out = mapped(shipped, "grafana", "grafana_firing")
    firing, resolved = out.accepted
    assert (firing.ci_id, firing.state, firing.source) == ("db-gl-01:9187", State.DOWN, "grafana")
    assert firing.time == datetime(2026, 11, 30, 8, 58, tzinfo=UTC)
    assert firing.summary == "General ledger database replica is falling behind"
    assert firing.attributes["job"] == "postgres"
    assert firing.attributes["grafana.receiver"] == "impactline"
    # Resolved: ok, at the time it ended; named by its `host` label.
    assert (resolved.ci_id, resolved.state) == ("app-gl-01", State.OK)
    assert resolved.time == datetime(2026, 11, 30, 9, 40, tzinfo=UTC)


def test_a_resent_notification_gets_the_same_ids(shipped: WebhookMappings) -> None:
    first = [e.id for e in mapped(shipped, "grafana", "grafana_firing").accepted]
    again = [e.id for e in mapped(shipped, "grafana", "grafana_firing").accepted]
    assert first == again and len(set(first)) == 2


def test_uptime_kuma_heartbeats_name_the_monitor_by_url_or_name(shipped: WebhookMappings) -> None:
    [down] = mapped(shipped, "uptime-kuma", "uptime_kuma_down").accepted
    assert (down.ci_id, down.state) == ("https://shop.larkspur.example.com/health", State.DOWN)
    # Uptime Kuma's heartbeat time is UTC without an offset.
    assert down.time == datetime(2026, 11, 30, 10, 0, 5, 214000, tzinfo=UTC)
    assert down.attributes["monitor_name"] == "Web shop"
    [up] = mapped(shipped, "uptime-kuma", "uptime_kuma_push_up").accepted
    # A push monitor has neither host name nor URL: its name is the key, spaces and all.
    assert (up.ci_id, up.state, up.metric, up.value) == ("GL Database", State.OK, "ping_ms", 3.0)


def test_uptime_kumas_test_button_is_accepted_and_publishes_nothing(
    shipped: WebhookMappings,
) -> None:
    out = mapped(shipped, "uptime-kuma", "uptime_kuma_test")
    assert out.accepted == [] and out.rejected == []
    assert out.notes == ["item 0 skipped: `heartbeat == null || monitor == null` holds for it"]


def test_zabbix_problems_and_recoveries(shipped: WebhookMappings) -> None:
    [problem] = mapped(shipped, "zabbix", "zabbix_problem").accepted
    [recovery] = mapped(shipped, "zabbix", "zabbix_recovery").accepted
    assert (problem.ci_id, problem.state) == ("db-gl-01.corp.larkspur.example.com", State.DOWN)
    assert recovery.state is State.OK and recovery.id != problem.id
    assert problem.attributes["ip"] == "10.20.0.11"
    assert problem.attributes["component"] == "database"  # an event tag
    update = {**payload("zabbix_problem"), "status": "update"}
    out = webhook.translate(update, shipped.by_name["zabbix"], received_at=RECEIVED)
    assert out.accepted == [] and out.notes


def test_a_state_outside_the_table_without_a_default_is_rejected_by_item(
    shipped: WebhookMappings,
) -> None:
    body = {**payload("zabbix_problem"), "nseverity": "9"}
    out = webhook.translate(body, shipped.by_name["zabbix"], received_at=RECEIVED)
    [(index, error)] = out.rejected
    assert index == 0
    assert "gave '9', which is not in the state table" in error.message


def test_an_item_without_a_ci_name_is_rejected_with_its_pointer(shipped: WebhookMappings) -> None:
    body = payload("grafana_firing")
    body["alerts"][1]["labels"] = {}
    out = webhook.translate(body, shipped.by_name["grafana"], received_at=RECEIVED)
    assert len(out.accepted) == 1
    [(index, error)] = out.rejected
    assert (index, error.pointer) == (1, "/alerts/1")
    assert "mapping field `ci`" in error.message


def test_a_body_without_the_items_is_refused(shipped: WebhookMappings) -> None:
    with pytest.raises(AdapterError) as caught:
        webhook.translate({"receiver": "x"}, shipped.by_name["grafana"], received_at=RECEIVED)
    assert caught.value.pointer == "/alerts"


def test_foreign_cloudevent_types_are_mapped_instead_of_refused() -> None:
    checks = load_mappings([FIXTURES / "checks.yaml"])
    event = {
        "specversion": "1.0",
        "id": "3f0c8b7e-9f1d-4a7b-8f51-6a2b1c0d9e11",
        "source": "https://checks.example.com",
        "type": "com.example.monitoring.check.failed",
        "time": "2026-11-30T10:00:00Z",
        "subject": "db-gl-01",
        "data": {"check": "tcp/5432", "region": "eu-west", "target": {"address": "10.20.0.11"}},
    }
    headers = {"content-type": ce.STRUCTURED}
    [got] = ce.translate(
        event, headers, received_at=RECEIVED, mappings=checks.by_cloudevent_type
    ).accepted
    assert isinstance(got, TelemetryEvent)
    assert (got.id, got.ci_id, got.state) == (event["id"], "10.20.0.11", State.DOWN)
    assert got.time == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert got.source == "https://checks.example.com"
    assert got.attributes == {"check": "tcp/5432", "region": "eu-west"}
    # Binary mode: attributes as headers, the body is the data.
    binary = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-id": "b1",
        "ce-source": "checks",
        "ce-type": "com.example.monitoring.check.passed",
        "ce-subject": "db-gl-01",
    }
    [ok] = ce.translate(
        {"check": "tcp/5432"}, binary, received_at=RECEIVED, mappings=checks.by_cloudevent_type
    ).accepted
    assert (ok.ci_id, ok.state, ok.time) == ("db-gl-01", State.OK, RECEIVED)
    # A type nobody claims is still refused, naming the types that are understood.
    with pytest.raises(AdapterError) as caught:
        ce.translate(
            {**event, "type": "com.example.other"},
            headers,
            received_at=RECEIVED,
            mappings=checks.by_cloudevent_type,
        )
    assert "com.example.monitoring.check.passed" in caught.value.message


def test_broken_mapping_files_are_reported_with_file_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "name: tool-a\n"
        "fields:\n"
        "  ci: labels.[\n"
        "  state: status\n"
        "  colour: red\n"
        "states: {firing: on-fire}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "name: alertmanager\nfields: {ci: a, state: b}\nstates: {x: ok}\n"
        "cloudevent_types: [com.example.x]\n"
    )
    (tmp_path / "c.yaml").write_text(
        "fields: {ci: a, state: b}\nstates: {x: ok}\ncloudevent_types: [com.example.x]\n"
    )
    (tmp_path / "c2.yml").write_text("name: c\nfields: {ci: a, state: b}\nstates: {x: ok}\n")
    with pytest.raises(MappingsInvalid) as caught:
        load_mappings([tmp_path])
    found = [(Path(e.file).name, e.path, e.line) for e in caught.value.errors]
    assert found == [
        ("a.yaml", "fields.ci", 3),
        ("a.yaml", "fields.colour", 5),
        ("a.yaml", "states.firing", 6),
        ("b.yaml", "name", 1),
        ("c.yaml", "cloudevent_types[0]", 3),
        ("c2.yml", "name", 1),
    ]
    messages = [e.message for e in caught.value.errors]
    assert messages[0].startswith("not a valid JMESPath expression")
    assert messages[1].startswith("unexpected field 'colour'")
    assert "'alertmanager' is a built-in input" in messages[3]
    assert "also claimed by" in messages[4] and "b.yaml" in messages[4]
    assert "also used by" in messages[5] and "c.yaml" in messages[5]


def test_no_mapping_folder_means_no_mappings(tmp_path: Path) -> None:
    assert load_mappings([tmp_path / "missing"]).by_name == {}
