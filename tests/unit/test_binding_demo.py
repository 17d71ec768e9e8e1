"""The demo catalog's binding rules against what real tools send, and `impactline bind explain`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from impactline.cli.main import app
from impactline.core.binding import Binder
from impactline.core.catalog import load_catalog
from impactline.ingest.explain import ExplainError, explain
from impactline.ingest.webhooks import WebhookMappings, load_mappings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RECEIVED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def binder() -> Binder:
    return Binder(load_catalog([ROOT / "deploy" / "catalog"]))


@pytest.fixture(scope="module")
def mappings() -> WebhookMappings:
    return load_mappings([ROOT / "deploy" / "webhooks"])


def alert(fingerprint: str, **labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "Test", **labels},
        "annotations": {},
        "startsAt": "2026-11-30T10:00:00Z",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any]) -> bytes:
    body = {"version": "4", "status": "firing", "receiver": "impactline", "alerts": list(alerts)}
    return json.dumps(body).encode()


def first_lines(text: list[str]) -> list[str]:
    return [line for line in text if not line.startswith("    ")]


def test_real_alert_labels_bind_with_the_demo_rules(
    binder: Binder, mappings: WebhookMappings
) -> None:
    payload = notification(
        alert("a", instance="db-gl-01:9187", job="postgres"),
        alert("b", instance="app-gl-02.corp.larkspur.example.com:9100", job="node"),
        alert("c", namespace="shop", deployment="web-shop", instance="10.244.1.17:8080"),
        alert("d", namespace="shop", pod="web-shop-7d9c5b6f4-x2x7q"),
        alert("e", instance="10.20.0.21:9100", job="node"),
        alert("f", instance="db-gl-10:9187"),
    )
    report = explain(binder, "alertmanager", payload, mappings, received_at=RECEIVED)
    assert (report.bound, report.unbound, report.rejected) == (5, 1, 0)
    heads = first_lines(report.lines)
    assert "bound to db-gl-01 by rule instance-host" in heads[0]
    assert "bound to app-gl-02 by rule instance-short-name" in heads[1]
    assert "bound to web-shop by rule kubernetes-deployment" in heads[2]
    assert "bound to web-shop by rule kubernetes-pod" in heads[3]
    assert "bound to app-gl-01 by rule ip-address" in heads[4]
    assert "NOT BOUND" in heads[5] and "'db-gl-10:9187'" in heads[5]
    assert report.lines[-1] == "    closest CIs: db-gl-01, db-bi-01"


@pytest.mark.parametrize(
    ("source", "fixture", "expected"),
    [
        ("grafana", "webhooks/grafana_firing.json", ["db-gl-01", "app-gl-01"]),
        ("uptime-kuma", "webhooks/uptime_kuma_down.json", ["web-shop"]),
        ("zabbix", "webhooks/zabbix_problem.json", ["db-gl-01"]),
        ("alertmanager", "adapters/alertmanager_firing.json", None),
    ],
)
def test_shipped_webhooks_bind_with_the_demo_rules(
    binder: Binder,
    mappings: WebhookMappings,
    source: str,
    fixture: str,
    expected: list[str] | None,
) -> None:
    payload = (FIXTURES / fixture).read_bytes()
    report = explain(binder, source, payload, mappings, received_at=RECEIVED)
    bound = [line.split("bound to ")[1].split()[0] for line in first_lines(report.lines)]
    if expected is not None:
        assert bound == expected
    assert report.unbound == 0 and report.rejected == 0


def test_an_unknown_input_names_the_inputs_there_are(
    binder: Binder, mappings: WebhookMappings
) -> None:
    with pytest.raises(ExplainError) as caught:
        explain(binder, "nagios", b"{}", mappings, received_at=RECEIVED)
    assert "grafana" in str(caught.value) and "alertmanager" in str(caught.value)


def test_the_command_prints_each_alert_and_exits_1_when_one_waits(tmp_path: Path) -> None:
    file = tmp_path / "notification.json"
    file.write_bytes(
        notification(alert("a", instance="db-gl-01:9187"), alert("b", instance="nowhere:1"))
    )
    result = CliRunner().invoke(app, ["bind", "explain", "--source", "alertmanager", str(file)])
    assert result.exit_code == 1, result.output
    assert "alert 0 (Test, key 'db-gl-01:9187'): bound to db-gl-01 by rule instance-host" in (
        result.output
    )
    assert "alert 1 (Test, key 'nowhere:1'): NOT BOUND" in result.output
    assert "1 bound, 1 waiting for a binding, 0 rejected (the catalog files)" in result.output
    file.write_bytes(notification(alert("a", instance="db-gl-01:9187")))
    ok = CliRunner().invoke(app, ["bind", "explain", "--source", "alertmanager", str(file)])
    assert ok.exit_code == 0, ok.output
    file.write_text("{not json")
    broken = CliRunner().invoke(app, ["bind", "explain", "--source", "alertmanager", str(file)])
    assert broken.exit_code == 2
    assert "not a valid alertmanager body" in broken.output
