"""What the notify integration tests share: a topic prefix and database schema per module on the
real broker and PostgreSQL, local vendor receivers, and the notify app run in this process
(its lifespan: consumer, dispatchers, publisher, escalation) with a route file pointing at them.
Holds no tests itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from impactline.core import cloudevents, topics
from impactline.core.contracts import Contract, DeliveryRecord
from impactline.core.delivery import RouteFile
from impactline.notify.app import create_app
from impactline.runtime.auth import StaticKeyStore
from impactline.runtime.catalog_source import CatalogHolder
from impactline.runtime.clock import Clock
from impactline.runtime.kafka import (
    delete_topics,
    ensure_topics,
    open_tail,
    topic_name,
)
from impactline.runtime.settings import Settings
from tests.helpers import publish_events
from tests.receivers import WEBHOOK_SECRET, Receiver, Receivers

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "notify-admin-key"
# The secrets the route files below refer to, given to notify as its environment.
ENVIRON = {
    "PD_KEY": "R" * 32,
    "PD_WEBHOOK_SECRET": "pd-webhook-secret",
    "OPSGENIE_KEY": "opsgenie-key",
    "SLACK_URL": "",  # filled with the receiver's URL: an incoming webhook URL is a secret
    "TEAMS_URL": "",
    "SN_USER": "impactline",
    "SN_PASSWORD": "sn-password",
    "JIRA_EMAIL": "ops@larkspur-trading.example",
    "JIRA_TOKEN": "jira-token",
    "JIRA_WEBHOOK_SECRET": "jira-webhook-secret",
    "HOOK_SECRET": WEBHOOK_SECRET,
}
FAST = {
    "timeout_seconds": 5,
    "attempts": 8,
    "backoff": {"initial_seconds": 0.05, "max_seconds": 0.4, "jitter_seconds": 0.02},
    "rate_limit": {"per_second": 50, "burst": 50},
    "circuit": {"failures": 5, "cooldown_seconds": 0.5},
}


@dataclass
class Vendors:
    receivers: Receivers
    pd: Receiver
    opsgenie: Receiver
    slack: Receiver
    teams: Receiver
    snow: Receiver
    jira: Receiver
    hook: Receiver


def destinations(vendors: Vendors) -> dict[str, Any]:
    return {
        "pagerduty-database": {
            "kind": "pagerduty",
            "url": f"{vendors.pd.url}/v2/enqueue",
            "routing_key": {"env": "PD_KEY"},
            "webhook_secret": {"env": "PD_WEBHOOK_SECRET"},
        },
        "opsgenie-leads": {
            "kind": "opsgenie",
            "url": vendors.opsgenie.url,
            "api_key": {"env": "OPSGENIE_KEY"},
            "responders": [{"type": "team", "name": "Finance Systems"}],
        },
        "slack-exec": {"kind": "slack", "webhook_url": {"env": "SLACK_URL"}},
        "teams-desk": {"kind": "teams", "webhook_url": {"env": "TEAMS_URL"}},
        "servicenow": {
            "kind": "servicenow",
            "instance_url": vendors.snow.url,
            "username": {"env": "SN_USER"},
            "password": {"env": "SN_PASSWORD"},
            "assignment_group": "Service Desk",
        },
        "jira": {
            "kind": "jira",
            "site_url": vendors.jira.url,
            "email": {"env": "JIRA_EMAIL"},
            "api_token": {"env": "JIRA_TOKEN"},
            "project_key": "OPS",
            "resolve_transition": "31",
            "webhook_secret": {"env": "JIRA_WEBHOOK_SECRET"},
        },
        "bridge": {
            "kind": "webhook",
            "url": f"{vendors.hook.url}/events",
            "signing_secret": {"env": "HOOK_SECRET"},
        },
    }


def route_file(vendors: Vendors, **overrides: Any) -> RouteFile:
    """The demo's routes, every destination a local receiver, deliveries paced for tests."""
    document: dict[str, Any] = {
        "dashboard_url": "http://127.0.0.1:8080/",
        "defaults": FAST,
        "destinations": destinations(vendors),
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
                "name": "exec channel",
                "when": {"source": ["alert"], "high_visibility": True},
                "to": ["slack-exec"],
            },
            {
                "name": "close in the service desk",
                "when": {"source": ["alert"], "calendar_period": ["month-end-close"]},
                "to": ["teams-desk"],
            },
            {
                "name": "service desk records",
                "when": {"source": ["itsm"]},
                "to": ["servicenow", "jira"],
            },
            {"name": "bridge", "to": ["bridge"]},
        ],
        "escalation": [
            {"contact": "ERP on-call engineer", "to": ["opsgenie-leads"]},
            {"contact": "*", "to": ["slack-exec"]},
        ],
        **overrides,
    }
    return RouteFile.from_mapping(document, "test routes")


@dataclass
class Notify:
    app: FastAPI
    settings: Settings

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://notify", timeout=10)

    async def delivery_rows(self, **where: str) -> list[dict[str, Any]]:
        clauses = " AND ".join(f"{k} = ${n}" for n, k in enumerate(where, 1)) or "true"
        rows = await self.app.state.store.pool.fetch(
            f"SELECT * FROM notify_deliveries WHERE {clauses} ORDER BY seq", *where.values()
        )
        return [dict(r) for r in rows]


@dataclass
class Env:
    settings: Settings
    vendors: Vendors

    async def send(self, *events: tuple[topics.Topic, Contract, str]) -> None:
        await publish_events(self.settings, "notify-test", *events)

    @asynccontextmanager
    async def notify(
        self,
        routes: RouteFile,
        *,
        clock: Clock | None = None,
        holder: CatalogHolder | None = None,
        escalation_every_s: float = 0.2,
    ) -> AsyncIterator[Notify]:
        environ = {
            **ENVIRON,
            "SLACK_URL": f"{self.vendors.slack.url}/services/T0/B0/x",
            "TEAMS_URL": f"{self.vendors.teams.url}/workflows/x",
        }
        app = create_app(
            self.settings,
            routes=routes,
            environ=environ,
            clock=clock,
            key_store=StaticKeyStore.from_specs([f"{ADMIN_KEY}=admin", "reader=read"]),
            holder=holder or CatalogHolder.from_files([ROOT / "deploy" / "catalog"]),
            escalation_every_s=escalation_every_s,
        )
        async with app.router.lifespan_context(app):
            yield Notify(app, self.settings)

    @asynccontextmanager
    async def tail(self, topic: topics.Topic) -> AsyncIterator[Callable[[], Any]]:
        """Read `topic` from its end: the returned function gives what arrived since."""
        name = topic_name(topic, self.settings.topic_prefix)
        consumer = await open_tail(self.settings.require_kafka(), name)
        seen: list[Any] = []

        async def arrived() -> list[Any]:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                seen.extend(cloudevents.decode(topic, m.value, m.headers).event for m in records)
            return seen

        try:
            yield arrived
        finally:
            await consumer.stop()


@asynccontextmanager
async def environment(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Env]:
    schema = f"notify_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in database_url else "?"
    settings = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=f"{database_url}{sep}search_path={schema}",
        IMPACTLINE_TOPIC_PREFIX=f"{schema}.",
        IMPACTLINE_CATALOG=str(ROOT / "deploy" / "catalog"),
    )
    await ensure_topics(kafka_bootstrap, topics.REGISTRY, prefix=settings.topic_prefix)
    try:
        async with Receivers.running() as receivers:
            vendors = Vendors(
                receivers,
                receivers.add("pd", "pagerduty"),
                receivers.add("opsgenie", "opsgenie"),
                receivers.add("slack", "slack"),
                receivers.add("teams", "teams"),
                receivers.add("snow", "servicenow"),
                receivers.add("jira", "jira"),
                receivers.add("hook", "webhook"),
            )
            yield Env(settings, vendors)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
        await delete_topics(kafka_bootstrap, settings.topic_prefix)


@pytest.fixture
async def env(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Env]:
    async with environment(kafka_bootstrap, database_url) as running:
        yield running


def records_for(seen: list[Any], incident_id: str) -> dict[tuple[str, str], DeliveryRecord]:
    """The latest delivery record per (destination, action) of an incident."""
    latest: dict[str, DeliveryRecord] = {}
    for record in seen:
        if isinstance(record, DeliveryRecord) and record.incident_id == incident_id:
            known = latest.get(record.delivery_id)
            if known is None or known.version < record.version:
                latest[record.delivery_id] = record
    return {(r.destination, r.action): r for r in latest.values()}
