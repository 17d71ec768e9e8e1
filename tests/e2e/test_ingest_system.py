"""The ingest process as deployed: keys managed with the CLI, a PagerDuty client and a producer
on the raw topic, all reaching the telemetry topic."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

import httpx

from impactline.core import topics
from impactline.runtime.kafka import new_producer, topic_name
from impactline.runtime.system import RunningSystem


async def _cli(system: RunningSystem, *args: str) -> tuple[str, str]:
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
    return out.decode(), err.decode()


async def test_a_key_made_with_the_cli_works_until_revoked(system: RunningSystem) -> None:
    key, created = await _cli(system, "keys", "create", "--scope", "ingest", "--name", "e2e")
    key = key.strip()
    key_id = created.split()[1]
    listed, _ = await _cli(system, "keys", "list")
    assert key_id in listed and key not in listed
    event = {"ci_id": "db-gl-01", "state": "ok", "source": "e2e-keys"}
    async with httpx.AsyncClient(base_url=system.ingest_url) as client:
        assert (await client.post("/v1/events", json=event)).status_code == 401
        ok = await client.post("/v1/events", json=event, headers={"X-API-Key": key})
        assert ok.status_code == 202, ok.text
        await _cli(system, "keys", "revoke", key_id)
        deadline = time.monotonic() + 15  # lookups are cached for 5 s
        while True:
            r = await client.post("/v1/events", json=event, headers={"X-API-Key": key})
            if r.status_code != 202 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    assert r.status_code == 401
    assert r.headers["content-type"] == "application/problem+json"


async def test_pagerduty_client_and_raw_producer_reach_telemetry(
    system: RunningSystem, tail
) -> None:
    telemetry = await tail(topics.TELEMETRY)
    run = uuid.uuid4().hex[:8]
    trigger = {
        "routing_key": system.api_key,
        "event_action": "trigger",
        "dedup_key": f"e2e-{run}",
        "payload": {"summary": "disk full", "source": "db-bi-01", "severity": "error"},
    }
    async with httpx.AsyncClient(base_url=system.ingest_url) as client:
        r = await client.post("/v2/enqueue", json=trigger)
    assert r.status_code == 202 and r.json()["status"] == "success"
    got = await telemetry.wait_for(
        lambda e: e.event.attributes.get("pagerduty.dedup_key") == f"e2e-{run}"
    )
    assert got.event.ci_id == "db-bi-01"

    producer = new_producer(system.settings.require_kafka(), "e2e-raw")
    await producer.start()
    try:
        value = json.dumps({"id": f"raw-{run}", "ci_id": "db-bi-01", "state": "ok"}).encode()
        name = topic_name(topics.RAW, system.settings.topic_prefix)
        await producer.send_and_wait(name, value=value, key=b"db-bi-01")
    finally:
        await producer.stop()
    forwarded = await telemetry.wait_for(lambda e: e.event.id == f"raw-{run}")
    assert forwarded.event.state.value == "ok"
