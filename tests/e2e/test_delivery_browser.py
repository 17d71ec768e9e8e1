"""The whole pipeline with notify: the demo's month-end slowdown of `db-gl-01` pages PagerDuty,
posts to Slack and opens a ServiceNow incident (local receivers that check each request against
the vendor's format); on-call acknowledges it in PagerDuty, PagerDuty's signed v3 webhook reaches
notify, and the dashboard, in a real browser, shows the incident acknowledged and what was
delivered where.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem, start_system, wait_ready
from tests.e2e.conftest import free_port
from tests.e2e.test_dashboard_browser import LONDON, P1_CARD, Browser, browser, post
from tests.helpers import wait_for
from tests.receivers import Receivers, pagerduty_signature

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the fixture, shared with the dashboard's browser test

PD_WEBHOOK_SECRET = "e2e-pagerduty-webhook-secret"
SECRETS = {
    "E2E_PD_ROUTING_KEY": "E" * 32,
    "E2E_PD_WEBHOOK_SECRET": PD_WEBHOOK_SECRET,
    "E2E_SN_USER": "impactline",
    "E2E_SN_PASSWORD": "e2e-servicenow-password",
}


def route_file(receivers: Receivers, dashboard: str) -> dict[str, Any]:
    fast = {"backoff": {"initial_seconds": 0.2, "max_seconds": 2, "jitter_seconds": 0.1}}
    return {
        "version": 1,
        "dashboard_url": dashboard,
        "defaults": fast,
        "destinations": {
            "pagerduty-database": {
                "kind": "pagerduty",
                "url": f"{receivers.receivers['pd'].url}/v2/enqueue",
                "routing_key": {"env": "E2E_PD_ROUTING_KEY"},
                "webhook_secret": {"env": "E2E_PD_WEBHOOK_SECRET"},
            },
            "slack-exec": {"kind": "slack", "webhook_url": {"env": "E2E_SLACK_URL"}},
            "servicenow": {
                "kind": "servicenow",
                "instance_url": receivers.receivers["snow"].url,
                "username": {"env": "E2E_SN_USER"},
                "password": {"env": "E2E_SN_PASSWORD"},
            },
        },
        "routes": [
            {
                "name": "page the database team",
                "when": {
                    "source": ["alert"],
                    "priority": ["P1", "P2"],
                    "owner_team": ["Database Team"],
                },
                "to": ["pagerduty-database"],
            },
            {
                "name": "exec",
                "when": {"source": ["alert"], "high_visibility": True},
                "to": ["slack-exec"],
            },
            {"name": "records", "when": {"source": ["itsm"]}, "to": ["servicenow"]},
        ],
    }


@pytest.fixture(scope="module")
async def system(
    e2e_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningSystem]:
    """The system, its API on any free port: 8080 may still be closing after another module's
    system, or be taken by something else on the machine."""
    running = await start_system(
        e2e_settings,
        ingest_port=free_port(),
        api_port=free_port(),
        log_dir=tmp_path_factory.mktemp("logs"),
    )
    try:
        yield running
    finally:
        await asyncio.to_thread(running.stop)


@pytest.fixture(scope="module")
async def vendors() -> AsyncIterator[Receivers]:
    async with Receivers.running() as receivers:
        receivers.add("pd", "pagerduty")
        receivers.add("slack", "slack")
        receivers.add("snow", "servicenow")
        yield receivers


@pytest.fixture(scope="module")
async def notify_url(
    system: RunningSystem, vendors: Receivers, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """notify as one more process of the running system, its route file aimed at the receivers."""
    path = tmp_path_factory.mktemp("notify") / "routes.yaml"
    path.write_text(yaml.safe_dump(route_file(vendors, f"{system.api_url}/")))
    secrets = {**SECRETS, "E2E_SLACK_URL": f"{vendors.receivers['slack'].url}/services/T/B/x"}
    system.supervisor.env.update({**secrets, "IMPACTLINE_NOTIFY_ROUTES": str(path)})
    port = free_port()
    system.supervisor.start("notify", "serve", "notify", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    await wait_ready(f"{url}/readyz", system.supervisor, 90)
    return url


async def test_a_pagerduty_acknowledgement_shows_on_the_dashboard(
    system: RunningSystem, notify_url: str, vendors: Receivers, browser: Browser, tmp_path: Path
) -> None:
    pd, slack, snow = (vendors.receivers[n] for n in ("pd", "slack", "snow"))
    await browser.open(f"{system.api_url}/")
    await browser.until("!document.getElementById('key-panel').hidden", "the key form")
    await browser.evaluate(
        f"document.getElementById('key-input').value = {json.dumps(system.api_key)};"
        "document.querySelector('#key-form button[type=submit]').click(); true"
    )
    await browser.until("document.getElementById('live').textContent === 'live'", "live")

    await post(system, "db-gl-01", "degraded", datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))

    # Every business service the slowdown hurts has its own record; Financial Close's is P1.
    def closing(records: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in records.values() if r["short_description"].startswith("Financial Close")]

    await wait_for(
        lambda: pd.accepted and slack.accepted and closing(snow.records),
        timeout=90,
        message="the page, the Slack post and the ServiceNow incident",
    )
    [page] = [p for p in pd.accepted if p.json["dedup_key"].startswith("financial-close/")]
    assert page.json["payload"]["severity"] == "critical"
    assert page.json["payload"]["custom_details"]["Calendar"] == "month-end-close \u00d73"
    [record] = closing(snow.records)
    assert (record["impact"], record["urgency"]) == ("1", "1")
    incident_id = await browser.until(f"{P1_CARD} && {P1_CARD}.dataset.incident", "the P1 card")
    assert page.json["links"][0]["href"] == f"{system.api_url}/#incident-{incident_id}"
    await browser.until(
        f"{P1_CARD}.querySelector('.delivery[data-destination=\"pagerduty-database\"]')"
        "?.dataset.status === 'sent'",
        "the page shown as delivered",
    )

    # On-call acknowledges in PagerDuty; PagerDuty's v3 webhook tells notify.
    body = json.dumps(
        {
            "event": {
                "id": "01E2EACK",
                "event_type": "incident.acknowledged",
                "resource_type": "incident",
                "occurred_at": "2026-11-30T10:03:00Z",
                "agent": {"id": "PU1", "summary": "Dana Okafor", "type": "user_reference"},
                "data": {
                    "id": "Q1E2E",
                    "type": "incident",
                    "number": 7,
                    "status": "acknowledged",
                    "incident_key": page.json["dedup_key"],
                },
            }
        }
    ).encode()
    headers = {"X-PagerDuty-Signature": pagerduty_signature(PD_WEBHOOK_SECRET, body)}
    async with httpx.AsyncClient(base_url=notify_url, timeout=10) as client:
        answer = await client.post(
            "/v1/inbound/pagerduty/pagerduty-database", content=body, headers=headers
        )
    assert answer.status_code == 202, answer.text
    assert answer.json()["incident_id"] == incident_id

    card = f"document.querySelector('article.incident[data-incident=\"{incident_id}\"]')"
    await browser.until(f"{card}?.dataset.state === 'acknowledged'", "the incident acknowledged")
    text = await browser.until(
        f"(() => {{ const c = {card};"
        " return c && /servicenow \\w+ INC\\d+ · sent/.test(c.innerText)"
        " && /pagerduty-database acknowledge · sent/.test(c.innerText) && c.innerText; })()",
        "the ServiceNow record and PagerDuty's acknowledgement on the card",
    )
    assert "acknowledged" in text.lower()
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.api_url, headers=headers) as api:
        stored = (await api.get(f"/v1/incidents/{incident_id}")).json()
        delivered = (await api.get("/v1/deliveries", params={"incident_id": incident_id})).json()
    assert stored["state"] == "acknowledged"
    # The acknowledgement went back to PagerDuty too (harmless there: already acknowledged).
    await wait_for(
        lambda: any(
            p.json["event_action"] == "acknowledge"
            and p.json["dedup_key"] == page.json["dedup_key"]
            for p in pd.accepted
        ),
        timeout=30,
        message="the acknowledge event",
    )
    assert {(d["destination"], d["action"]) for d in delivered["items"]} >= {
        ("pagerduty-database", "trigger"),
        ("slack-exec", "trigger"),
        ("servicenow", "create"),
    }
    shot = tmp_path / "dashboard-delivered.png"
    await browser.screenshot(shot)
    print(f"dashboard screenshot: {shot}")
    assert vendors.violations == []
    assert browser.errors == [], f"script errors on the page: {browser.errors}"
    await asyncio.sleep(0)
