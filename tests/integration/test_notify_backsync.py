"""Back-sync and escalation on the real broker and database: PagerDuty, ServiceNow and Jira
callbacks become incident commands exactly as the API's acknowledge and resolve do; an
unacknowledged P1 page climbs its service's escalation path."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from impactline.core import topics
from impactline.core.contracts import IncidentCommand, IncidentCommandAction
from impactline.runtime.clock import ManualClock
from tests.delivery_cases import DOMAIN, MONTH_END, month_end
from tests.helpers import wait_for
from tests.integration.notify_support import ADMIN_KEY, ENVIRON, Env, env, route_file
from tests.receivers import pagerduty_signature

pytestmark = pytest.mark.integration
__all__ = ["env"]

PAGE = [{"name": "page", "when": {"priority": ["P1"]}, "to": ["pagerduty-database"]}]
RECORDS = [{"name": "records", "when": {"source": ["itsm"]}, "to": ["servicenow", "jira"]}]


def pagerduty_event(kind: str, key: str, event_id: str = "01EVT") -> bytes:
    body = {
        "event": {
            "id": event_id,
            "event_type": kind,
            "resource_type": "incident",
            "occurred_at": "2026-11-30T10:04:00Z",
            "agent": {"id": "PU1", "summary": "Dana Okafor", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": {
                "id": "Q0RIJJZL8HKRJ",
                "type": "incident",
                "number": 42,
                "status": "acknowledged",
                "incident_key": key,
                "title": "Financial Close is degraded",
            },
        }
    }
    return json.dumps(body).encode()


def signed(secret: str, body: bytes) -> dict[str, str]:
    return {
        "X-PagerDuty-Signature": pagerduty_signature(secret, body),
        "Content-Type": "application/json",
    }


async def test_on_call_acknowledging_in_pagerduty_acknowledges_the_incident(env: Env) -> None:
    case = month_end("pd-ack")
    v = env.vendors
    routes = route_file(v, routes=PAGE + RECORDS)
    async with env.notify(routes) as notify, env.tail(topics.INCIDENT_COMMANDS) as commands:
        await env.send(
            (topics.INCIDENTS, case.opened, case.incident_id),
            (topics.ALERTS, case.alert, case.alert.dedup_key),
            (topics.ITSM, case.record, case.record.incident_id),
        )
        await wait_for(
            lambda: v.pd.accepted and v.snow.records and v.jira.records, timeout=60, message="sent"
        )
        body = pagerduty_event("incident.acknowledged", case.alert.dedup_key)
        secret = ENVIRON["PD_WEBHOOK_SECRET"]
        async with notify.client() as client:
            answer = await client.post(
                "/v1/inbound/pagerduty/pagerduty-database",
                content=body,
                headers=signed(secret, body),
            )
            assert answer.status_code == 202, answer.text
            assert answer.json()["incident_id"] == case.incident_id
            # PagerDuty retries a webhook it is not sure about: the same command again.
            again = await client.post(
                "/v1/inbound/pagerduty/pagerduty-database",
                content=body,
                headers=signed(secret, body),
            )
            assert again.json()["command_id"] == answer.json()["command_id"]

            forged = await client.post(
                "/v1/inbound/pagerduty/pagerduty-database",
                content=body,
                headers=signed("not-the-secret", body),
            )
            assert forged.status_code == 401
            assert forged.headers["content-type"] == "application/problem+json"
            unsigned = await client.post("/v1/inbound/pagerduty/pagerduty-database", content=body)
            assert unsigned.status_code == 401
            stranger = pagerduty_event("incident.acknowledged", "someone-elses-alert", "02EVT")
            ignored = await client.post(
                "/v1/inbound/pagerduty/pagerduty-database",
                content=stranger,
                headers=signed(secret, stranger),
            )
            assert (ignored.status_code, ignored.json()["status"]) == (200, "ignored")

        async def both() -> list[IncidentCommand]:
            found = [c for c in await commands() if isinstance(c, IncidentCommand)]
            return found if len(found) == 2 else []

        ack, repeated = await wait_for(both, timeout=30, message="the command, twice")
        assert repeated.id == ack.id  # the incident's owner applies it once
        assert (ack.incident_id, ack.correlation_domain, ack.action) == (
            case.incident_id,
            DOMAIN,
            IncidentCommandAction.ACKNOWLEDGE,
        )
        assert ack.requested_by == "pagerduty:Dana Okafor"
        # Stamped on notify's clock, which follows the incident's own events (a scenario in
        # November 2026), not on today's date.
        assert MONTH_END <= ack.time <= MONTH_END + timedelta(minutes=10)

        # Once correlate has acknowledged it, a late webhook changes nothing.
        await env.send(
            (
                topics.INCIDENTS,
                case.acknowledged(MONTH_END + timedelta(minutes=4)),
                case.incident_id,
            )
        )
        await wait_for(
            lambda: len(v.pd.accepted) == 2, timeout=30, message="the acknowledge passed on"
        )
        assert v.pd.accepted[1].json["event_action"] == "acknowledge"
        later = pagerduty_event("incident.acknowledged", case.alert.dedup_key, "03EVT")
        async with notify.client() as client:
            late = await client.post(
                "/v1/inbound/pagerduty/pagerduty-database",
                content=later,
                headers=signed(secret, later),
            )
        assert late.json() == {
            "status": "ignored",
            "reason": f"incident {case.incident_id} is already acknowledged",
            "incident_id": case.incident_id,
            "action": "acknowledge",
        }
    assert v.receivers.violations == []


async def test_servicenow_and_jira_resolutions_resolve_the_incident(env: Env) -> None:
    case = month_end("itsm-back")
    v = env.vendors
    routes = route_file(v, routes=RECORDS)
    async with env.notify(routes) as notify, env.tail(topics.INCIDENT_COMMANDS) as commands:
        await env.send(
            (topics.INCIDENTS, case.opened, case.incident_id),
            (topics.ITSM, case.record, case.record.incident_id),
        )
        await wait_for(lambda: v.snow.records and v.jira.records, timeout=60, message="records")
        [record] = v.snow.records.values()
        callback = {
            "sys_id": record["sys_id"],
            "number": record["number"],
            "correlation_id": record["correlation_id"],
            "state": "6",
            "sys_updated_by": "jane.doe",
            "sys_updated_on": "2026-11-30 10:30:00",
        }
        issue_update: dict[str, Any] = {
            "timestamp": 1795000000000,
            "webhookEvent": "jira:issue_updated",
            "user": {"accountId": "5b10", "displayName": "Sam Lee"},
            "issue": {
                "key": next(iter(v.jira.records)),
                "fields": {
                    "status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}
                },
            },
        }
        jira_body = json.dumps(issue_update).encode()
        jira_signature = hmac.new(
            ENVIRON["JIRA_WEBHOOK_SECRET"].encode(), jira_body, hashlib.sha256
        ).hexdigest()
        async with notify.client() as client:
            anonymous = await client.post("/v1/inbound/servicenow/servicenow", json=callback)
            assert anonymous.status_code == 401
            reader = await client.post(
                "/v1/inbound/servicenow/servicenow",
                json=callback,
                headers={"Authorization": "Bearer reader"},
            )
            assert reader.status_code == 403
            resolved = await client.post(
                "/v1/inbound/servicenow/servicenow",
                json=callback,
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            assert resolved.status_code == 202, resolved.text
            working = await client.post(
                "/v1/inbound/jira/jira",
                content=jira_body,
                headers={"X-Hub-Signature": f"sha256={jira_signature}"},
            )
            assert working.status_code == 202, working.text
            bad = await client.post(
                "/v1/inbound/servicenow/servicenow",
                json={"state": "6"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            assert bad.status_code == 422
            assert "correlation_id or sys_id" in bad.json()["detail"]

        async def sent() -> dict[str, IncidentCommand]:
            found = [c for c in await commands() if isinstance(c, IncidentCommand)]
            return {c.requested_by: c for c in found} if len(found) == 2 else {}

        by = await wait_for(sent, timeout=30, message="two commands")
        assert by["servicenow:jane.doe"].action is IncidentCommandAction.RESOLVE
        assert by["jira:Sam Lee"].action is IncidentCommandAction.ACKNOWLEDGE
        assert {c.incident_id for c in by.values()} == {case.incident_id}


async def test_an_unacknowledged_p1_page_climbs_the_escalation_path(env: Env) -> None:
    case = month_end("escalate")
    v = env.vendors
    # Any day: escalation counts real minutes since the page, on notify's wall clock.
    clock = ManualClock(datetime(2031, 5, 6, 8, 0, tzinfo=UTC))
    routes = route_file(v, routes=PAGE)
    async with env.notify(routes, clock=clock, escalation_every_s=3600) as notify:
        escalator = notify.app.state.escalator
        await env.send(
            (topics.INCIDENTS, case.opened, case.incident_id),
            (topics.ALERTS, case.alert, case.alert.dedup_key),
        )
        await wait_for(lambda: v.pd.accepted, timeout=60, message="the page")
        clock.advance(timedelta(minutes=14, seconds=59))
        assert await escalator.round() == 0
        clock.advance(timedelta(seconds=1))  # Financial Close: level 2 after 15 minutes
        assert await escalator.round() == 1
        await wait_for(lambda: v.opsgenie.accepted, timeout=30, message="level 2")
        [raised] = v.opsgenie.accepted
        assert raised.json["alias"] == f"{case.alert.dedup_key}#level-2"
        assert raised.json["message"].startswith("[P1] Escalated to level 2 (ERP on-call engineer)")
        assert "Escalation" in raised.json["details"]
        assert await escalator.round() == 0  # once per step

        # On-call acknowledges: the page and its escalation are acknowledged, nothing climbs.
        acked = case.acknowledged(MONTH_END + timedelta(minutes=16))
        await env.send((topics.INCIDENTS, acked, case.incident_id))
        await wait_for(
            lambda: len(v.pd.accepted) == 2 and len(v.opsgenie.accepted) == 2,
            timeout=30,
            message="acknowledged at both",
        )
        assert v.pd.accepted[1].json["event_action"] == "acknowledge"
        assert v.opsgenie.accepted[1].path.endswith("/acknowledge")
        clock.advance(timedelta(hours=3))
        assert await escalator.round() == 0
        assert v.slack.requests == []  # level 3 and 4 never reached anyone
    assert v.receivers.violations == []
