"""The route file and routing: which destinations a message reaches and what each is asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from impactline.core.contracts import IncidentAction, IncidentState
from impactline.core.delivery import (
    Action,
    DeliveryConfigError,
    Holdings,
    RouteFile,
    from_alert,
    from_incident,
    from_itsm,
    load_route_file,
    plan,
)
from tests.delivery_cases import month_end

ROOT = Path(__file__).resolve().parents[2]


def route_file(**overrides: Any) -> RouteFile:
    document: dict[str, Any] = {
        "version": 1,
        "dashboard_url": "https://impactline.example/",
        "destinations": {
            "pd-db": {"kind": "pagerduty", "routing_key": {"env": "PD_DB"}},
            "slack-exec": {"kind": "slack", "webhook_url": {"env": "SLACK_EXEC"}},
            "snow": {
                "kind": "servicenow",
                "instance_url": "https://larkspur.service-now.com",
                "username": {"env": "SN_USER"},
                "password": {"file": "/run/secrets/sn"},
            },
            "bridge": {
                "kind": "webhook",
                "url": "https://hooks.example/in",
                "signing_secret": {"env": "HOOK"},
            },
        },
        "routes": [
            {
                "name": "page db",
                "when": {
                    "source": ["alert"],
                    "priority": ["P1", "P2"],
                    "owner_team": ["Database Team"],
                },
                "to": ["pd-db"],
            },
            {"name": "exec", "when": {"high_visibility": True}, "to": ["slack-exec"]},
            {"name": "itsm", "when": {"source": ["itsm"]}, "to": ["snow"]},
        ],
        **overrides,
    }
    return RouteFile.from_mapping(document, "routes.yaml")


def targets(planned: list[Any]) -> set[tuple[str, str]]:
    return {(p.destination, p.action.value) for p in planned}


def test_the_demo_route_file_is_valid_and_sends_the_month_end_p1_where_it_belongs() -> None:
    routes = load_route_file(ROOT / "deploy" / "notify" / "routes.yaml")
    case = month_end()
    planned = plan([from_alert(case.alert), from_itsm(case.record)], routes, Holdings())
    assert targets(planned) >= {
        ("pagerduty-database", "trigger"),
        ("slack-exec", "trigger"),
        ("teams-service-desk", "trigger"),
        ("servicenow", "create"),
    }


def test_month_end_p1_pages_posts_and_opens_a_record_and_its_resolve_reaches_them_all() -> None:
    case = month_end()
    routes = route_file()
    holdings = Holdings()
    opened = plan([from_alert(case.alert), from_itsm(case.record)], routes, holdings)
    assert targets(opened) == {("pd-db", "trigger"), ("slack-exec", "trigger"), ("snow", "create")}
    # The resolve of the alert is not high-visibility any more, yet reaches the channel that
    # was told; the pager gets its resolve under the same dedup key.
    assert not case.resolved_alert.high_visibility
    closed = plan(
        [from_alert(case.resolved_alert), from_itsm(case.resolved_record)], routes, holdings
    )
    assert targets(closed) == {("pd-db", "resolve"), ("slack-exec", "resolve"), ("snow", "resolve")}
    assert {p.subject for p in closed if p.destination == "pd-db"} == {case.alert.dedup_key}


def test_mid_month_p3_is_neither_paged_nor_sent_to_the_exec_channel() -> None:
    case = month_end()
    p3 = case.alert.model_copy(update={"priority": "P3", "high_visibility": False})
    assert plan([from_alert(p3)], route_file(), Holdings()) == []


def test_routes_match_domain_team_calendar_period_and_service_patterns() -> None:
    case = month_end()
    routes = route_file(
        routes=[
            {
                "name": "finance close",
                "when": {
                    "business_domain": ["finance"],
                    "calendar_period": ["month-end-close"],
                    "service": ["financial-*"],
                },
                "to": ["bridge"],
            },
            {
                "name": "payroll only",
                "when": {"calendar_period": ["payroll-run"]},
                "to": ["slack-exec"],
            },
        ]
    )
    assert targets(plan([from_alert(case.alert)], routes, Holdings())) == {("bridge", "trigger")}


def test_an_incident_acknowledged_in_impactline_acknowledges_the_page_and_notes_the_record() -> (
    None
):
    case = month_end()
    routes = route_file()
    holdings = Holdings()
    plan([from_alert(case.alert), from_itsm(case.record)], routes, holdings)
    acked = case.acknowledged(case.alert.time)
    synced = plan([from_incident(acked)], routes, holdings)
    assert targets(synced) == {
        ("pd-db", "acknowledge"),
        ("slack-exec", "acknowledge"),
        ("snow", "note"),
    }
    # ... under each destination's own subject: the dedup key, the record key.
    assert {(p.destination, p.subject) for p in synced} == {
        ("pd-db", case.alert.dedup_key),
        ("slack-exec", case.alert.dedup_key),
        ("snow", f"itsm:{case.record.incident_id}"),
    }


def test_incident_events_reach_webhooks_whose_route_asks_for_them() -> None:
    case = month_end()
    routes = route_file(
        routes=[{"name": "lifecycle", "when": {"source": ["incident"]}, "to": ["bridge"]}]
    )
    planned = plan([from_incident(case.opened)], routes, Holdings())
    assert targets(planned) == {("bridge", "note")}
    assert planned[0].notice.root_cause_candidates == ("db-gl-01",)


def test_planning_the_same_message_twice_plans_the_same_deliveries() -> None:
    case = month_end()
    first = plan([from_alert(case.alert)], route_file(), Holdings())
    again = plan([from_alert(case.alert)], route_file(), Holdings())
    assert [p.delivery_id for p in first] == [p.delivery_id for p in again]
    assert len({p.delivery_id for p in first}) == len(first) == 2


def test_defaults_apply_to_every_destination_and_a_destination_overrides_them() -> None:
    routes = route_file(
        defaults={"attempts": 3, "backoff": {"initial_seconds": 0.5}},
        destinations={
            "pd-db": {"kind": "pagerduty", "routing_key": {"env": "PD"}},
            "slack-exec": {
                "kind": "slack",
                "webhook_url": {"env": "S"},
                "delivery": {"attempts": 9, "backoff": {"max_seconds": 10}},
            },
            "snow": {
                "kind": "servicenow",
                "instance_url": "https://x.service-now.com",
                "token": {"env": "T"},
            },
        },
    )
    pd, slack = routes.destinations["pd-db"].delivery, routes.destinations["slack-exec"].delivery
    assert (pd.attempts, pd.backoff.initial_seconds, pd.backoff.max_seconds) == (3, 0.5, 300)
    assert (slack.attempts, slack.backoff.initial_seconds, slack.backoff.max_seconds) == (
        9,
        0.5,
        10,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"destinations": {"pd": {"kind": "pagerduty", "routing_key": "R0UT1NGK3Y"}}},
            "destinations.pd.routing_key: secrets are never written in the route file",
        ),
        (
            {
                "destinations": {
                    "pd": {"kind": "pagerduty", "routing_key": {"env": "A", "file": "/b"}}
                }
            },
            "destinations.pd.routing_key: give exactly one of env or file",
        ),
        (
            {"destinations": {"x": {"kind": "pager", "routing_key": {"env": "A"}}}},
            "destinations.x",
        ),
        (
            {"routes": [{"name": "r", "to": ["nowhere"]}]},
            "routes[0] (r).to: no destination named 'nowhere'",
        ),
        (
            {"routes": [{"name": "r", "when": {"source": ["itsm"]}, "to": ["pd-db"]}]},
            "routes[0] (r).to: pd-db (pagerduty) takes alert messages, not itsm",
        ),
        (
            {"routes": [{"name": "r", "when": {"priority": ["P0"]}, "to": ["pd-db"]}]},
            "routes[0].when.priority[0]",
        ),
        (
            {
                "routes": [
                    {
                        "name": "r",
                        "when": {"source": ["incident"], "priority": ["P1"]},
                        "to": ["bridge"],
                    }
                ]
            },
            "incident events carry no priority",
        ),
        (
            {"escalation": [{"contact": "*", "to": ["snow"]}]},
            "escalation[0].to: snow (servicenow) takes itsm messages, not alert",
        ),
    ],
)
def test_a_broken_route_file_is_refused_naming_the_path_and_the_rule(
    change: dict[str, Any], expected: str
) -> None:
    with pytest.raises(DeliveryConfigError) as refused:
        route_file(**change)
    assert expected in str(refused.value)
    assert str(refused.value).startswith("routes.yaml: ")


def test_a_file_that_is_not_yaml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text("destinations:\n  pd: {kind: pagerduty\n")
    with pytest.raises(DeliveryConfigError, match=r"routes.yaml: not valid YAML at line 3"):
        load_route_file(path)


def test_incident_state_is_kept_from_the_event() -> None:
    case = month_end()
    notice = from_incident(case.resolved)
    assert (notice.action, notice.incident_action) == (Action.RESOLVE, IncidentAction.RESOLVED)
    assert case.resolved.state is IncidentState.RESOLVED


def test_an_incident_resolved_after_its_alerts_resolved_asks_nothing_more() -> None:
    case = month_end()
    routes = route_file()
    holdings = Holdings()
    plan([from_alert(case.alert), from_itsm(case.record)], routes, holdings)
    plan([from_alert(case.resolved_alert), from_itsm(case.resolved_record)], routes, holdings)
    assert plan([from_incident(case.resolved)], routes, holdings) == []


def test_an_incident_resolved_by_hand_while_its_alert_is_open_resolves_the_page() -> None:
    case = month_end()
    routes = route_file()
    holdings = Holdings()
    plan([from_alert(case.alert), from_itsm(case.record)], routes, holdings)
    synced = plan([from_incident(case.resolved)], routes, holdings)
    # The ITSM record closes with the impact's own resolve, not with the incident.
    assert targets(synced) == {("pd-db", "resolve"), ("slack-exec", "resolve")}
