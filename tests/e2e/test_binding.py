"""Real sources on the real broker: events named the way monitoring names things are bound to
catalog CIs and reach impact with the rule recorded; an unbound event waits, and after a binding
is added and it is replayed it reaches impact once."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from impactline.core import topics
from impactline.core.contracts import TelemetryEvent
from impactline.runtime.kafka import new_producer, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem
from tests.e2e.conftest import CONFIG, TopicTail
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def e2e_settings(e2e_settings: Settings) -> Settings:
    """The usual catalogs plus one whose CIs monitoring names by FQDN, deployment and IP."""
    paths = [*e2e_settings.catalog_paths, CONFIG / "binding-catalog.yaml"]
    return e2e_settings.model_copy(update={"catalog_paths": paths})


AT = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)  # mid-month, business hours in London


def at(minutes: int = 0) -> str:
    return (AT + timedelta(minutes=minutes)).isoformat()


def alertmanager(run: str, *labels: dict[str, str]) -> dict[str, Any]:
    alerts = [
        {
            "status": "firing",
            "labels": {"severity": "critical", **extra},
            "annotations": {"summary": f"binding e2e {run}"},
            "startsAt": at(),
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{run}-{n}",
        }
        for n, extra in enumerate(labels)
    ]
    return {"version": "4", "status": "firing", "receiver": "impactline", "alerts": alerts}


async def cli(system: RunningSystem, *args: str) -> str:
    env = {**os.environ, **system.settings.as_environment()}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "impactline.cli.main",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_alertmanager_grafana_kubernetes_and_ip_events_reach_impact_with_their_rule(
    system: RunningSystem, tail: Callable[[topics.Topic], Any]
) -> None:
    telemetry: TopicTail = await tail(topics.TELEMETRY)
    impact: TopicTail = await tail(topics.IMPACT)
    run = uuid.uuid4().hex[:8]
    grafana = json.loads((ROOT / "tests/fixtures/webhooks/grafana_firing.json").read_text())
    grafana["alerts"] = [
        {
            **grafana["alerts"][0],
            "labels": {
                "alertname": "Node down",
                "instance": "bind-web-01.corp.example.com:9100",
                "severity": "critical",
            },
            "fingerprint": f"{run}-grafana",
            "startsAt": at(),
        }
    ]
    auth = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=auth) as client:
        am = await client.post(
            "/v1/alertmanager",
            json=alertmanager(
                run,
                # postgres_exporter's instance label: host and port.
                {"alertname": "PostgresDown", "instance": "db-gl-01:9187", "job": "postgres"},
                # kube-state-metrics: the scrape target is the exporter pod, the workload is
                # in the namespace and deployment labels.
                {
                    "alertname": "KubeDeploymentReplicasMismatch",
                    "namespace": "checkout",
                    "deployment": "cart-api",
                    "job": "kube-state-metrics",
                    "instance": "10.244.3.9:8080",
                },
            ),
        )
        gf = await client.post("/v1/webhooks/grafana", json=grafana)
        ip = await client.post(
            "/v1/events",
            json={"ci_id": "10.77.0.5", "state": "down", "time": at(), "summary": "probe failed"},
        )
    for answer in (am, gf, ip):
        assert answer.status_code == 202, answer.text
        assert answer.json()["unbound"] == 0, answer.text
    [postgres_id, kubernetes_id] = am.json()["ids"]
    [grafana_id] = gf.json()["ids"]
    [ip_id] = ip.json()["ids"]
    expected = {
        postgres_id: ("db-gl-01", "instance-host", "financial-close"),
        kubernetes_id: ("bind-cart-api", "kubernetes-deployment", "bind-checkout"),
        grafana_id: ("bind-web-01", "instance-short-name", "bind-web-store"),
        ip_id: ("bind-report-db", "ip-address", "bind-reports"),
    }
    for event_id, (ci, rule, service) in expected.items():
        got = await telemetry.wait_for(lambda e, i=event_id: e.event.id == i)
        event = got.event
        assert isinstance(event, TelemetryEvent) and event.binding is not None
        assert (event.ci_id, event.binding.rule) == (ci, rule)
        # Generous: the whole pipeline on a loaded 2-core machine.
        reached = await impact.wait_for(
            lambda e, i=event_id, s=service: (
                e.event.cause_event_id == i and e.event.service_id == s
            ),
            timeout_s=120,
        )
        assert reached.event.cause_ci_id == ci

    # A producer on the raw topic is bound the same way, as input `raw`.
    producer = new_producer(system.settings.require_kafka(), "e2e-binding-raw")
    await producer.start()
    try:
        value = json.dumps(
            {"id": f"raw-{run}", "ci_id": "10.77.0.5:5432", "state": "ok", "time": at(2)}
        )
        name = topic_name(topics.RAW, system.settings.topic_prefix)
        await producer.send_and_wait(name, value=value.encode(), key=b"10.77.0.5")
    finally:
        await producer.stop()
    raw = (await telemetry.wait_for(lambda e: e.event.id == f"raw-{run}")).event
    assert isinstance(raw, TelemetryEvent) and raw.binding is not None
    assert (raw.ci_id, raw.binding.rule, raw.binding.input) == (
        "bind-report-db",
        "ip-address",
        "raw",
    )


async def test_an_unbound_event_reaches_impact_once_after_a_binding_is_added_and_it_is_replayed(
    system: RunningSystem, tail: Callable[[topics.Topic], Any]
) -> None:
    telemetry: TopicTail = await tail(topics.TELEMETRY)
    impact: TopicTail = await tail(topics.IMPACT)
    event_id = f"late-{uuid.uuid4()}"
    auth = {"Authorization": f"Bearer {system.api_key}"}
    event = {"id": event_id, "ci_id": "late-db.corp.example.com", "state": "down", "time": at(1)}
    async with httpx.AsyncClient(headers=auth, timeout=30) as client:
        sent = await client.post(f"{system.ingest_url}/v1/events", json=event)
        assert sent.status_code == 202, sent.text
        assert (sent.json()["bound"], sent.json()["unbound"]) == (0, 1)
        assert sent.json()["unbound_keys"][0]["key"] == "late-db.corp.example.com"

        async def waiting() -> dict[str, Any] | None:
            page = (await client.get(f"{system.api_url}/v1/unbound")).json()
            return next((i for i in page["items"] if i["key"] == event["ci_id"]), None)

        listed = await wait_for(waiting, timeout=60, message="the API lists the unbound key")
        assert (listed["input"], listed["events"]) == ("native", 1)
        assert "no CI id or alias is 'late-db.corp.example.com'" in listed["reason"]

        # A person adds the alias through the API: a new catalog version.
        stored = (await client.get(f"{system.api_url}/v1/catalog")).json()["documents"]
        [name] = [n for n in stored if n.endswith("binding-catalog.yaml")]
        for ci in stored[name]["cis"]:
            if ci["id"] == "bind-late-db":
                ci["aliases"] = ["late-db.corp.example.com"]
        put = await client.put(f"{system.api_url}/v1/catalog", json={"documents": stored})
        assert put.status_code == 200, put.text

        replayed = await cli(system, "unbound", "replay")
        assert "bound and published 1 event(s) (key 1)" in replayed
        reached = await impact.wait_for(
            lambda e: e.event.cause_event_id == event_id and e.event.service_id == "bind-late",
            timeout_s=120,
        )
        assert reached.event.cause_ci_id == "bind-late-db"
        assert reached.event.catalog_version == put.json()["version"]

        # A second replay finds nothing waiting, so nothing is published twice.
        again = await cli(system, "unbound", "replay")
        assert "bound and published 0 event(s); 0 still wait; 1 bound by earlier replays" in again
        bound = (await client.get(f"{system.api_url}/v1/unbound?status=bound")).json()
        assert any(i["key"] == event["ci_id"] for i in bound["items"])

        async def gone() -> bool:
            return await waiting() is None

        await wait_for(gone, timeout=60, message="the API no longer lists the key as waiting")

    first = await telemetry.wait_for(lambda e: e.event.id == event_id)
    assert [e for e, _ in telemetry.seen if e.event.id == event_id] == [first]
    got = first.event
    assert isinstance(got, TelemetryEvent) and got.binding is not None
    assert (got.ci_id, got.binding.rule, got.binding.via) == ("bind-late-db", "key", "alias")
    assert got.binding.key == "late-db.corp.example.com"
    changes = [
        e
        for e, _ in impact.seen
        if e.event.cause_event_id == event_id and e.event.reason.value == "state-change"
    ]
    assert len(changes) == 1
