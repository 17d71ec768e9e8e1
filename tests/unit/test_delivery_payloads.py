"""Every vendor request notify builds, checked against the vendor's published request format
(tests/vendor_formats.py): fields, enums and limits, with the impact explanation readable."""

from __future__ import annotations

import json
from typing import Any

import pytest

from impactline.core.delivery import Action, IncidentContext, Notice, explain, from_alert, from_itsm
from impactline.core.delivery.destinations import Jira, Opsgenie, PagerDuty, ServiceNow, Slack
from impactline.core.delivery.signing import verify
from impactline.core.delivery.vendors import (
    jira,
    opsgenie,
    pagerduty,
    servicenow,
    slack,
    teams,
    webhook,
)
from tests import vendor_formats as formats
from tests.delivery_cases import month_end

DASHBOARD = "https://impactline.example/"
CASE = month_end()
CONTEXT = IncidentContext(
    incident_id=CASE.incident_id,
    state="open",
    affected_services=("financial-close",),
    root_cause_candidates=("db-gl-01",),
    suspect_changes=tuple(CASE.opened.suspect_changes),
)
PD = PagerDuty.model_validate({"kind": "pagerduty", "routing_key": {"env": "K"}})
OG = Opsgenie.model_validate(
    {"kind": "opsgenie", "api_key": {"env": "K"}, "responders": [{"type": "team", "name": "DBA"}]}
)
SLACK_API = Slack.model_validate({"kind": "slack", "token": {"env": "T"}, "channel": "C0EXEC"})
SN = ServiceNow.model_validate(
    {
        "kind": "servicenow",
        "instance_url": "https://larkspur.service-now.com",
        "username": {"env": "U"},
        "password": {"env": "P"},
        "assignment_group": "Service Desk",
    }
)
JIRA = Jira.model_validate(
    {
        "kind": "jira",
        "site_url": "https://larkspur.atlassian.net",
        "email": {"env": "E"},
        "api_token": {"env": "T"},
        "project_key": "OPS",
        "resolve_transition": "31",
    }
)


def explained(notice: Notice, action: Action | None = None):
    return explain(notice, CONTEXT, DASHBOARD, action)


def long_notice() -> Notice:
    """The month-end alert with a summary far over every vendor's limit."""
    return from_alert(CASE.alert.model_copy(update={"summary": "Financial Close " * 200}))


def test_the_explanation_reads_as_the_business_impact() -> None:
    text = explained(from_alert(CASE.alert)).text()
    for expected in (
        "[P1] Financial Close is degraded for 126 finance users during month-end close",
        "Priority: P1 \u00b7 high visibility",
        "Business service: Financial Close (finance)",
        "Users affected: 126 \u00b7 personas: Finance operations, Financial controllers, "
        "Budget holders, CFO office",
        "Calendar: month-end-close \u00d73",
        "Business impact: 0.0 business impact minutes \u00b7 358.9 per minute now",
        "High visibility: experience approvers affected: CFO office",
        "Root cause candidate: db-gl-01",
        "Suspect changes: configuration on db-gl-01 at 2026-11-30 09:53 UTC: raised work_mem",
        f"Dashboard: {DASHBOARD}#incident-{CASE.incident_id}",
    ):
        assert expected in text, text


@pytest.mark.parametrize("action", [Action.TRIGGER, Action.ACKNOWLEDGE, Action.RESOLVE])
def test_pagerduty_events_follow_the_events_api_v2(action: Action) -> None:
    request = pagerduty.event(
        PD, "R" * 32, action, CASE.alert.dedup_key, explained(from_alert(CASE.alert))
    )
    assert (request.method, request.url) == ("POST", "https://events.pagerduty.com/v2/enqueue")
    body = request.json
    assert formats.violations(formats.PAGERDUTY_EVENT, body) == []
    assert (body["event_action"], body["dedup_key"]) == (action.value, CASE.alert.dedup_key)
    if action is Action.TRIGGER:
        assert body["payload"]["severity"] == "critical"
        assert body["payload"]["custom_details"]["Calendar"] == "month-end-close \u00d73"
        assert body["payload"]["component"] == "db-gl-01"


def test_pagerduty_limits_summary_and_dedup_key_and_maps_every_priority() -> None:
    request = pagerduty.event(PD, "R" * 32, Action.TRIGGER, "k" * 400, explained(long_notice()))
    body = request.json
    assert formats.violations(formats.PAGERDUTY_EVENT, body) == []
    assert len(body["payload"]["summary"]) == 1024
    assert len(body["dedup_key"]) <= 255
    severities = {
        p: pagerduty.event(
            PD,
            "R",
            Action.TRIGGER,
            "k",
            explained(from_alert(CASE.alert.model_copy(update={"priority": p}))),
        ).json["payload"]["severity"]
        for p in ("P1", "P2", "P3", "P4", "P5")
    }
    assert severities == {
        "P1": "critical",
        "P2": "error",
        "P3": "warning",
        "P4": "info",
        "P5": "info",
    }


@pytest.mark.parametrize("action", [Action.TRIGGER, Action.ACKNOWLEDGE, Action.RESOLVE])
def test_opsgenie_requests_follow_the_alert_api(action: Action) -> None:
    request = opsgenie.request(OG, "key", action, CASE.alert.dedup_key, explained(long_notice()))
    assert request.headers["Authorization"] == "GenieKey key"
    if action is Action.TRIGGER:
        assert request.url == "https://api.opsgenie.com/v2/alerts"
        assert formats.violations(formats.OPSGENIE_CREATE, request.json) == []
        assert len(request.json["message"]) == 130
        assert request.json["priority"] == "P1"
    else:
        verb = "acknowledge" if action is Action.ACKNOWLEDGE else "close"
        assert request.url.endswith(f"/{verb}?identifierType=alias")
        assert "financial-close%2F" in request.url  # the alias, escaped in the path
        assert formats.violations(formats.OPSGENIE_ACTION, request.json) == []


def test_slack_messages_follow_block_kit_limits_through_webhook_and_web_api() -> None:
    long = explained(long_notice())
    webhook_body = slack.webhook_post("https://hooks.slack.example/T/B/x", long).json
    assert formats.violations(formats.SLACK_WEBHOOK_MESSAGE, webhook_body) == []
    assert len(webhook_body["blocks"][0]["text"]["text"]) <= 150
    post = slack.api_post(SLACK_API, "xoxb-1", explained(from_alert(CASE.alert)))
    assert post.url == "https://slack.com/api/chat.postMessage"
    assert formats.violations(formats.SLACK_POST_MESSAGE, post.json) == []
    update = slack.api_update(SLACK_API, "xoxb-1", "C0EXEC:1700000000.000100", long)
    assert update.url == "https://slack.com/api/chat.update"
    assert formats.violations(formats.SLACK_UPDATE, update.json) == []
    assert update.json["ts"] == "1700000000.000100"
    fields = {
        f["text"].split("\n")[0] for b in post.json["blocks"] if "fields" in b for f in b["fields"]
    }
    assert {"*Users affected*", "*Calendar*", "*Root cause candidate*"} <= fields


def test_teams_cards_are_adaptive_cards_within_28_kb() -> None:
    request = teams.post("https://example.webhook.office.com/x", explained(from_alert(CASE.alert)))
    assert formats.violations(formats.TEAMS_MESSAGE, request.json) == []
    card = request.json["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
    assert facts["Calendar"] == "month-end-close \u00d73"
    assert card["actions"][0]["url"].endswith(f"#incident-{CASE.incident_id}")
    huge = from_alert(CASE.alert.model_copy(update={"summary": "x" * 3000}))
    context = IncidentContext(
        CASE.incident_id, "open", suspect_changes=tuple(CASE.opened.suspect_changes) * 400
    )
    big = teams.post("https://example.webhook.office.com/x", explain(huge, context, DASHBOARD))
    assert formats.teams_size_violations(big.content or b"") == []
    assert formats.violations(formats.TEAMS_MESSAGE, big.json) == []


def test_servicenow_records_map_our_priority_to_impact_and_urgency_and_resolve_with_a_code() -> (
    None
):
    headers = servicenow.auth_headers("impactline", "pw", None)
    subject = f"itsm:{CASE.record.incident_id}"
    create = servicenow.create(SN, headers, subject, explained(from_itsm(CASE.record)))
    assert create.url == "https://larkspur.service-now.com/api/now/table/incident"
    body = create.json
    assert formats.violations(formats.SERVICENOW_CREATE, body) == []
    assert (body["impact"], body["urgency"]) == ("1", "1")  # P1: high impact, high urgency
    assert body["correlation_id"] == f"impactline:{CASE.record.incident_id}"
    assert "Calendar: month-end-close \u00d73" in body["description"]
    long = servicenow.create(SN, headers, subject, explained(long_notice()))
    assert len(long.json["short_description"]) == 160
    resolve = servicenow.change(
        SN, headers, "a" * 32, Action.RESOLVE, explained(from_itsm(CASE.resolved_record))
    )
    assert resolve.method == "PATCH" and resolve.url.endswith("/incident/" + "a" * 32)
    assert formats.violations(formats.SERVICENOW_PATCH, resolve.json) == []
    assert resolve.json["state"] == "6"
    note = servicenow.change(SN, headers, "a" * 32, Action.NOTE, explained(from_itsm(CASE.record)))
    assert formats.violations(formats.SERVICENOW_PATCH, note.json) == []
    lookup = servicenow.lookup(SN, headers, subject)
    assert "correlation_id%3Dimpactline%3A" in lookup.url


def test_jira_requests_follow_the_platform_api() -> None:
    headers = jira.auth_headers("ops@example", "token")
    subject = f"itsm:{CASE.record.incident_id}"
    create = jira.create(JIRA, headers, subject, explained(from_itsm(CASE.record)))
    assert create.url == "https://larkspur.atlassian.net/rest/api/3/issue"
    assert formats.violations(formats.JIRA_CREATE, create.json) == []
    assert create.json["fields"]["priority"] == {"name": "Highest"}
    assert jira.label(subject) in create.json["fields"]["labels"]
    for action, schema, path in (
        (Action.UPDATE, formats.JIRA_EDIT, "/issue/OPS-7"),
        (Action.NOTE, formats.JIRA_COMMENT, "/issue/OPS-7/comment"),
        (Action.RESOLVE, formats.JIRA_TRANSITION, "/issue/OPS-7/transitions"),
    ):
        request = jira.change(JIRA, headers, "OPS-7", action, explained(from_itsm(CASE.record)))
        assert request.url.endswith(path)
        assert formats.violations(schema, request.json) == [], action
    long = jira.create(JIRA, headers, subject, explained(long_notice()))
    assert formats.violations(formats.JIRA_CREATE, long.json) == []


def test_webhooks_are_signed_cloudevents_a_receiver_can_verify() -> None:
    request = webhook.post(
        "https://hooks.example/in",
        "s3cr3t-signing-key",
        1_795_000_000,
        "delivery-1",
        Action.TRIGGER,
        CASE.alert.dedup_key,
        explained(from_alert(CASE.alert)),
    )
    body: dict[str, Any] = json.loads(request.content or b"")
    assert formats.violations(formats.CLOUDEVENT, body) == []
    assert body["type"] == "io.impactline.notify.alert.trigger"
    assert request.headers["Idempotency-Key"] == "delivery-1"
    verify(
        ["s3cr3t-signing-key"],
        request.headers["Impactline-Signature"],
        request.content or b"",
        1_795_000_010,
    )
