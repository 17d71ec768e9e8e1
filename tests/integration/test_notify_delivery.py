"""Delivery on the real broker and PostgreSQL to local receivers that check each request against
the vendor's published format: the demo's month-end P1 pages, posts and opens records, and its
resolution resolves them; a flaky receiver gets its message exactly once; a hanging one delays
nobody else; dead deliveries are replayed."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from impactline.core import topics
from impactline.core.contracts import DeadLetter, DeliveryStatus
from impactline.notify.admin import replay
from impactline.runtime.kafka import new_producer, topic_name
from tests.delivery_cases import month_end
from tests.helpers import wait_for
from tests.integration.notify_support import FAST, Env, env, records_for, route_file

pytestmark = pytest.mark.integration
__all__ = ["env"]  # the fixture, re-exported for pytest


def opened(case: Any) -> list[tuple[topics.Topic, Any, str]]:
    return [
        (topics.INCIDENTS, case.opened, case.incident_id),
        (topics.ALERTS, case.alert, case.alert.dedup_key),
        (topics.ITSM, case.record, case.record.incident_id),
    ]


def closed(case: Any) -> list[tuple[topics.Topic, Any, str]]:
    return [
        (topics.ALERTS, case.resolved_alert, case.alert.dedup_key),
        (topics.ITSM, case.resolved_record, case.record.incident_id),
        (topics.INCIDENTS, case.resolved, case.incident_id),
    ]


async def test_a_page_read_before_its_incident_waits_for_the_incidents_details(
    env: Env,
) -> None:
    # Alerts and incidents come on different topics: notify may read an alert first.
    case = month_end("alert-before-incident")
    v = env.vendors
    async with env.notify(route_file(v)) as notify:
        await env.send((topics.ALERTS, case.alert, case.alert.dedup_key))
        await wait_for(
            lambda: notify.delivery_rows(destination="pagerduty-database"),
            timeout=60,
            message="the page planned from the alert alone",
        )
        await env.send((topics.INCIDENTS, case.opened, case.incident_id))
        await wait_for(lambda: v.pd.accepted, timeout=60, message="the page")
        [page] = v.pd.accepted
        details = page.json["payload"]["custom_details"]
        # Sent with the incident's own details, not without them.
        assert "raised work_mem" in details.get("Suspect changes", "")


async def test_the_month_end_p1_pages_posts_and_opens_records_and_its_resolution_resolves_them(
    env: Env,
) -> None:
    case = month_end("month-end-delivery")
    v = env.vendors
    async with env.notify(route_file(v)), env.tail(topics.DELIVERIES) as deliveries:
        await env.send(*opened(case))
        await wait_for(
            lambda: v.pd.accepted and v.slack.accepted and v.snow.records and v.jira.records,
            timeout=60,
            message="the page, the Slack post, the ServiceNow incident and the Jira request",
        )
        [page] = v.pd.accepted
        assert page.json["event_action"] == "trigger"
        assert page.json["dedup_key"] == case.alert.dedup_key
        assert page.json["payload"]["severity"] == "critical"
        details = page.json["payload"]["custom_details"]
        assert details["Calendar"] == "month-end-close \u00d73"
        assert "CFO office" in details["Users affected"]
        assert details["Root cause candidate"] == "db-gl-01"
        assert "raised work_mem" in details.get("Suspect changes", "")
        [post] = v.slack.accepted
        assert "CFO office" in str(post.json["blocks"])
        [incident] = v.snow.records.values()
        assert (incident["impact"], incident["urgency"]) == ("1", "1")
        assert incident["correlation_id"] == f"impactline:{case.record.incident_id}"
        assert "month-end-close" in incident["description"]
        await wait_for(lambda: v.teams.accepted and v.hook.accepted, timeout=30, message="others")

        await env.send(*closed(case))
        await wait_for(
            lambda: (
                len(v.pd.accepted) == 2
                and len(v.slack.accepted) == 2
                and incident.get("state") == "6"
                and any(i.get("status") == "done" for i in v.jira.records.values())
            ),
            timeout=60,
            message="the page resolved, the recovery posted, the records resolved",
        )
        resolve = v.pd.accepted[1].json
        assert (resolve["event_action"], resolve["dedup_key"]) == ("resolve", case.alert.dedup_key)
        assert "recovered" in v.slack.accepted[1].json["text"].lower()
        assert incident["close_code"] == "Solution provided"

        # Every delivery's outcome is published for the API's delivery view.
        async def all_sent() -> dict[tuple[str, str], Any]:
            found = records_for(await deliveries(), case.incident_id)
            wanted = {
                ("pagerduty-database", "trigger"),
                ("pagerduty-database", "resolve"),
                ("slack-exec", "trigger"),
                ("servicenow", "create"),
                ("servicenow", "resolve"),
            }
            done = {k: r for k, r in found.items() if r.status is DeliveryStatus.SENT}
            return done if wanted <= set(done) else {}

        sent = await wait_for(all_sent, timeout=30, message="delivery records on the topic")
        assert sent[("servicenow", "create")].external_ref == incident["number"]

        # The same messages again (a redelivered batch) send nothing twice.
        before = {name: len(r.requests) for name, r in v.receivers.receivers.items()}
        await env.send(*opened(case), *closed(case))
        marker = month_end("month-end-marker")
        await env.send((topics.ALERTS, marker.alert, marker.alert.dedup_key))
        expected = {"pd": 1, "opsgenie": 0, "slack": 1, "teams": 1, "snow": 0, "jira": 0, "hook": 1}

        def sent_since() -> dict[str, int]:
            return {n: len(r.requests) - before[n] for n, r in v.receivers.receivers.items()}

        # Only the marker goes out: one page, one post, one card, one event.
        await wait_for(lambda: sent_since() == expected, timeout=30, message="only the marker")
        assert v.pd.accepted[2].json["dedup_key"] == marker.alert.dedup_key
    assert v.receivers.violations == []


async def test_a_receiver_that_fails_five_times_then_recovers_gets_the_message_exactly_once_more(
    env: Env,
) -> None:
    case = month_end("flaky")
    v = env.vendors
    v.pd.fail_next(5, status=503)
    routes = route_file(
        v,
        routes=[{"name": "page", "when": {"priority": ["P1"]}, "to": ["pagerduty-database"]}],
    )
    async with env.notify(routes) as notify:
        await env.send((topics.ALERTS, case.alert, case.alert.dedup_key))
        await wait_for(lambda: v.pd.accepted, timeout=60, message="the page after five failures")
        [row] = await wait_for(
            lambda: notify.delivery_rows(status="sent"), timeout=10, message="sent"
        )
        # Then a second page: once it is delivered, the dispatcher has long moved past the
        # first, so nothing more of it can still come.
        other = month_end("flaky-next")
        await env.send((topics.ALERTS, other.alert, other.alert.dedup_key))
        await wait_for(lambda: len(v.pd.accepted) == 2, timeout=30, message="the next page")
    first = [r for r in v.pd.requests if r.json["dedup_key"] == case.alert.dedup_key]
    assert [r.answered for r in first] == [503] * 5 + [202]
    assert row["attempts"] == 6 and row["status"] == "sent"
    assert "HTTP 503" in (row["last_error"] or "HTTP 503")
    # The retries backed off (exponentially, with the circuit opening after five): the sixth
    # try came no sooner than the cool-down after the fifth.
    gaps = [b.at - a.at for a, b in itertools.pairwise(first)]
    assert gaps[-1] >= FAST["circuit"]["cooldown_seconds"] * 0.9, gaps
    assert v.receivers.violations == []


async def test_a_receiver_that_hangs_does_not_delay_the_others(env: Env) -> None:
    v = env.vendors
    v.pd.hang()
    hanging = {**FAST, "timeout_seconds": 30}
    dests = route_file(v).destinations
    routes = route_file(
        v,
        destinations={
            name: {
                **d.model_dump(mode="json", exclude={"delivery"}, exclude_none=True),
                "delivery": hanging if name == "pagerduty-database" else FAST,
            }
            for name, d in dests.items()
        },
    )
    cases = [month_end(f"hang-{n}") for n in range(3)]
    async with env.notify(routes) as notify:
        started = time.monotonic()
        for case in cases:
            await env.send(*opened(case))
        await wait_for(
            lambda: (
                len(v.slack.accepted) == 3
                and len(v.snow.records) == 3
                and len(v.hook.accepted) >= 6
            ),
            timeout=60,
            message="Slack, ServiceNow and the webhook while PagerDuty hangs",
        )
        elapsed = time.monotonic() - started
        others = [r.at - started for r in (*v.slack.accepted, *v.hook.accepted)]
        print(
            f"\nwith PagerDuty hanging (30 s timeout): slack, servicenow and webhook got all 3 "
            f"month-end P1s within {elapsed:.2f} s (slowest request at {max(others):.2f} s)"
        )
        # Generous: far below the hanging destination's 30 s timeout, which they never wait for.
        assert elapsed < 15
        assert len(v.pd.requests) >= 1 and v.pd.accepted == []
        pending = await notify.delivery_rows(destination="pagerduty-database", status="pending")
        assert len(pending) == 3  # still owed to PagerDuty, in order, nothing lost
        # The consumer is not held up either: everything routed was committed to the log.
        assert notify.app.state.router.planned >= 3 * 5


async def test_a_refused_delivery_is_dead_with_its_reason_and_a_replay_sends_it(env: Env) -> None:
    case = month_end("refused")
    v = env.vendors
    v.snow.fail_next(1, status=403)
    routes = route_file(
        v, routes=[{"name": "records", "when": {"source": ["itsm"]}, "to": ["servicenow"]}]
    )
    async with env.notify(routes) as notify:
        await env.send((topics.ITSM, case.record, case.record.incident_id))
        [dead] = await wait_for(
            lambda: notify.delivery_rows(status="dead"), timeout=60, message="a dead delivery"
        )
        assert dead["attempts"] == 1  # a 403 is not retried: the credentials need fixing
        assert "refused: HTTP 403" in dead["last_error"]
        assert v.snow.records == {}
        replayed = await replay(
            notify.app.state.store.pool,
            notify.app.state.store.clock.now(),
            destination="servicenow",
        )
        assert replayed == 1
        [row] = await wait_for(
            lambda: notify.delivery_rows(delivery_id=dead["delivery_id"], status="sent"),
            timeout=30,
            message="the record after the replay",
        )
        assert row["attempts"] == 1 and len(v.snow.records) == 1
    assert v.receivers.violations == []


async def test_the_opsgenie_and_slack_web_api_destinations_deliver_in_their_formats(
    env: Env,
) -> None:
    case = month_end("opsgenie")
    v = env.vendors
    slack_api = v.receivers.add("slack-api", "slack_api")
    dests = route_file(v).destinations
    document = {
        name: d.model_dump(mode="json", exclude={"delivery"}, exclude_none=True)
        for name, d in dests.items()
    }
    document["slack-api"] = {
        "kind": "slack",
        "token": {"env": "SN_PASSWORD"},
        "channel": "C0EXEC",
        "url": slack_api.url,
    }
    routes = route_file(
        v,
        destinations=document,
        routes=[
            {"name": "p1", "when": {"priority": ["P1"]}, "to": ["opsgenie-leads", "slack-api"]}
        ],
    )
    async with env.notify(routes):
        await env.send((topics.ALERTS, case.alert, case.alert.dedup_key))
        await wait_for(
            lambda: v.opsgenie.accepted and slack_api.accepted, timeout=60, message="sent"
        )
        await env.send((topics.ALERTS, case.resolved_alert, case.alert.dedup_key))
        await wait_for(
            lambda: len(v.opsgenie.accepted) == 2 and len(slack_api.accepted) == 2,
            timeout=60,
            message="closed and updated",
        )
    create, close = v.opsgenie.accepted
    assert create.json["alias"] == case.alert.dedup_key and create.json["priority"] == "P1"
    assert close.path.endswith("/close")
    post, update = slack_api.accepted
    assert (post.path, update.path) == ("/chat.postMessage", "/chat.update")
    # The recovery replaced the first message in place.
    assert update.json["ts"] == f"{1_700_000_000 + 1}.000100"
    assert v.receivers.violations == []


async def test_deliveries_wait_out_a_burst_at_the_rate_limit(env: Env) -> None:
    v = env.vendors
    slow = {**FAST, "rate_limit": {"per_second": 4, "burst": 1}}
    dests = route_file(v).destinations
    routes = route_file(
        v,
        destinations={
            name: {
                **d.model_dump(mode="json", exclude={"delivery"}, exclude_none=True),
                "delivery": slow if name == "bridge" else FAST,
            }
            for name, d in dests.items()
        },
        routes=[{"name": "bridge", "when": {"source": ["alert"]}, "to": ["bridge"]}],
    )
    cases = [month_end(f"rate-{n}") for n in range(5)]
    async with env.notify(routes):
        await env.send(*((topics.ALERTS, c.alert, c.alert.dedup_key) for c in cases))
        await wait_for(lambda: len(v.hook.accepted) == 5, timeout=60, message="five events")
    times = sorted(r.at for r in v.hook.accepted)
    # 4 per second with a burst of 1: a send every 0.25 s. The first request also opens the
    # connection, so the span is measured from the second: three gaps, nominally 0.75 s (all
    # five at once would take a few milliseconds).
    assert times[-1] - times[1] >= 0.6, times
    await asyncio.sleep(0)


async def test_a_message_that_is_no_alert_is_a_dead_letter_and_delivery_goes_on(env: Env) -> None:
    v = env.vendors
    routes = route_file(
        v, routes=[{"name": "page", "when": {"priority": ["P1"]}, "to": ["pagerduty-database"]}]
    )
    alerts = topic_name(topics.ALERTS, env.settings.topic_prefix)
    async with env.notify(routes) as notify, env.tail(topics.DEAD_LETTERS) as letters:
        producer = new_producer(env.settings.require_kafka(), "poison-test")
        await producer.start()
        try:
            await producer.send_and_wait(alerts, value=b"{not an alert", key=b"k")
        finally:
            await producer.stop()
        case = month_end("after-poison")
        await env.send((topics.ALERTS, case.alert, case.alert.dedup_key))
        await wait_for(lambda: v.pd.accepted, timeout=60, message="the page after the poison")

        async def letter() -> list[DeadLetter]:
            return [d for d in await letters() if isinstance(d, DeadLetter)]

        [dead] = await wait_for(letter, timeout=30, message="the dead letter")
        assert (dead.source, dead.original_topic) == ("notify/notify", alerts)
        assert dead.payload == "{not an alert"
        async with notify.client() as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["destinations"] == sorted(route_file(v).destinations)
