"""What the API view tests share: an API server on the real broker and database, fed a known
history of events through the topics. Holds no tests itself.

One API server (uvicorn, in this process) per test module, with its own topic prefix and schema.
Event times are those of the month-end close of November 2026, so the read model's clock
follows them the way it follows a scenario.
"""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from impactline.api.app import create_app
from impactline.core import topics
from impactline.core.contracts import (
    CalendarContext,
    CIAnnotation,
    Contract,
    FeedbackEvent,
    ImpactEvent,
    ImpactReason,
    IncidentAction,
    IncidentEvent,
    IncidentState,
    ServiceHealthEvent,
    Weighting,
)
from impactline.core.states import State
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.clock import SYSTEM, SystemClock
from impactline.runtime.kafka import delete_topics, ensure_topics
from impactline.runtime.settings import Settings
from tests.helpers import publish_events, wait_for

READ = {"Authorization": "Bearer read-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
INGEST_ONLY = {"Authorization": "Bearer ingest-key"}

CATALOG = {
    "services.yaml": {
        "version": 1,
        "services": [
            {
                "id": "ledger",
                "name": "Ledger close",
                "owner": "Finance",
                "tier": 1,
                "users": 100,
                "domain": "finance",
                "calendar": "uk-finance",
                "targets": {"availability": 99.9, "xla": 80, "impact_minutes_budget": 2400},
                "dependencies": [{"to": "db-1"}],
            },
            {
                "id": "orders",
                "name": "Order entry",
                "owner": "Sales",
                "tier": 2,
                "users": 40,
                "domain": "sales",
                "dependencies": [{"to": "host-1"}],
            },
        ],
        "cis": [
            {"id": "db-1", "type": "database", "owner": "DBA"},
            {"id": "host-1", "type": "host", "owner": "Platform"},
        ],
    }
}

OPENED = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)  # month-end close, 10:00 London
MID_MONTH = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
INCIDENT = "inc-ledger-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api:
    url: str
    settings: Settings

    def client(self, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, headers=headers or READ, timeout=10)

    async def send(self, *events: tuple[topics.Topic, Contract, str]) -> None:
        await publish_events(self.settings, "api-views-test", *events)


# The API's wall clock is set to a day before the history, inside it, and years after it: what
# it shows follows the events' own time, so every test must pass on each of them.
WALL_CLOCKS = {
    "before": datetime(2026, 10, 1, 9, 0, tzinfo=UTC),
    "inside": OPENED + timedelta(minutes=25),
    "years-after": datetime(2031, 3, 3, 12, 0, tzinfo=UTC),
}


@pytest.fixture(scope="module", params=list(WALL_CLOCKS))
async def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, database_url: str
) -> AsyncIterator[Api]:
    schema = f"views_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in database_url else "?"
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=f"{database_url}{sep}search_path={schema}",
        IMPACTLINE_TOPIC_PREFIX=f"{schema}.",
    )
    await ensure_topics(kafka_bootstrap, topics.REGISTRY, prefix=settings.topic_prefix)
    keys = StaticKeyStore.from_specs(["admin-key=admin", "read-key=read", "ingest-key=ingest"])
    # A running clock (so time passes) that reads the chosen day.
    clock = SystemClock(WALL_CLOCKS[request.param] - SYSTEM.now())
    app = create_app(settings, key_store=keys, refresh_interval_s=0, clock=clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        await wait_for(lambda: server.started or task.done(), timeout=60, message="API start")
        assert not task.done(), "the API server stopped while starting"
        running = Api(f"http://127.0.0.1:{port}", settings)
        async with running.client(ADMIN) as client:
            put = await client.put("/v1/catalog", json={"documents": CATALOG})
            assert put.status_code == 200, put.text
        sent = history()
        sent_health = sum(1 for topic, _, _ in sent if topic is topics.SERVICE_HEALTH)
        await running.send(*sent)
        async with running.client() as client:

            async def projected() -> bool:
                timeline = await client.get("/v1/services/ledger/impact")
                incident = await client.get(f"/v1/incidents/{INCIDENT}")
                # Both ratings, not just the first: they may be projected in two batches.
                ratings = await admin.fetchval(f"SELECT count(*) FROM {schema}.view_feedback")
                # Every health event sent, whichever partition and fetch brought it.
                healths = await admin.fetchval(f"SELECT count(*) FROM {schema}.view_service_health")
                return (
                    len(timeline.json()["items"]) == 5
                    and incident.status_code == 200
                    and incident.json()["state"] == "resolved"
                    and ratings == 2
                    and healths == sent_health
                )

            await wait_for(projected, timeout=60, interval=0.3, message="history projected")
        yield running
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
        await delete_topics(kafka_bootstrap, settings.topic_prefix)


def health(service: str, state: State, before: State, at: datetime, incident: str | None):
    event = ServiceHealthEvent(
        id=f"h-{service}-{at.isoformat()}",
        service_id=service,
        state=state,
        previous_state=before,
        time=at,
        correlation_domain="dom-1",
        cause_ci_id="db-1",
        cause_event_id="t-1",
        incident_id=incident,
        catalog_version=1,
    )
    return topics.SERVICE_HEALTH, event, service


def impact(
    episode: str,
    at: datetime,
    minutes: float,
    *,
    state: State = State.DEGRADED,
    reason: ImpactReason = ImpactReason.ACCRUAL,
    period: str = "month-end-close",
    weight: float = 3.0,
    incident: str | None = INCIDENT,
    priority: str | None = "P1",
):
    event = ImpactEvent(
        id=f"i-{episode}-{at.isoformat()}",
        reason=reason,
        episode_id=episode,
        started_at=at,
        service_id="ledger",
        service_name="Ledger close",
        business_domain="finance",
        correlation_domain="dom-1",
        state=state,
        time=at,
        cause_ci_id="db-1",
        cause_event_id="t-1",
        incident_id=incident,
        users_affected=100,
        tier=1,
        weighting=Weighting.CALENDAR,
        calendar=CalendarContext(
            calendar="uk-finance",
            period=period,
            active_periods=[period],
            weight=weight,
            local_time=at.isoformat(),
        ),
        impact_rate=0.0 if state is State.OK else 75.0 * weight,
        business_impact_minutes=minutes,
        priority=priority,  # type: ignore[arg-type]
        high_visibility=weight > 1,
        catalog_version=1,
    )
    return topics.IMPACT, event, "ledger"


def incident(action: IncidentAction, state: IncidentState, at: datetime):
    event = IncidentEvent(
        id=f"e-{action.value}",
        incident_id=INCIDENT,
        action=action,
        state=state,
        time=at,
        correlation_domain="dom-1",
        affected_services=["ledger"],
        member_cis=["db-1"],
        root_cause_candidates=["db-1"],
        opened_at=OPENED,
    )
    return topics.INCIDENTS, event, INCIDENT


def history() -> list[tuple[topics.Topic, Contract, str]]:
    """Mid-month: 500 unweighted minutes. Month end: db-1 fails at 09:50 but its incident only
    opens at 10:00 (a silence ended); acknowledged at 10:05; the ledger is degraded for 20
    minutes and accrues 4000 minutes at weight 3; two users rate it; resolved at 10:30."""
    m = timedelta(minutes=1)
    silenced = CIAnnotation(
        id="a-1",
        ci_id="db-1",
        state=State.DEGRADED,
        time=OPENED - 10 * m,
        cause_event_id="t-1",
        correlation_domain="dom-1",
        note="silenced",
    )
    feedback = [
        FeedbackEvent(id="f-1", service_id="ledger", time=OPENED + 15 * m, csat=2,
                      comment="The close was painfully slow and frustrating."),
        FeedbackEvent(id="f-2", service_id="ledger", time=OPENED + 16 * m, csat=4),
    ]  # fmt: skip
    return [
        impact("mid", MID_MONTH, 0, period="business-hours", weight=1, incident=None,
               priority="P3"),
        impact("mid", MID_MONTH + 10 * m, 500, state=State.OK, reason=ImpactReason.RECOVERED,
               period="business-hours", weight=1, incident=None, priority="P3"),
        (topics.CI_ANNOTATIONS, silenced, "dom-1"),
        incident(IncidentAction.OPENED, IncidentState.OPEN, OPENED),
        health("ledger", State.DEGRADED, State.OK, OPENED, INCIDENT),
        impact("end", OPENED, 0, reason=ImpactReason.STATE_CHANGE),
        incident(IncidentAction.ACKNOWLEDGED, IncidentState.ACKNOWLEDGED, OPENED + 5 * m),
        impact("end", OPENED + 10 * m, 3000),
        health("orders", State.DOWN, State.OK, OPENED + 11 * m, None),
        impact("end", OPENED + 20 * m, 4000, state=State.OK, reason=ImpactReason.RECOVERED),
        health("ledger", State.OK, State.DEGRADED, OPENED + 20 * m, INCIDENT),
        incident(IncidentAction.RESOLVED, IncidentState.RESOLVED, OPENED + 30 * m),
        *[(topics.FEEDBACK, f, "ledger") for f in feedback],
    ]  # fmt: skip


class Events:
    """Reads one open event stream: `next(n)` gives (id, event, data) of the next n events."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, wanted: int) -> list[tuple[str, str, Any]]:
        found: list[tuple[str, str, Any]] = []
        fields: dict[str, str] = {}
        async with asyncio.timeout(30):
            async for line in self.lines:
                if line == "":
                    if "event" in fields:
                        data = json.loads(fields.get("data", "null"))
                        found.append((fields.get("id", ""), fields["event"], data))
                        if len(found) == wanted:
                            return found
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        return found
