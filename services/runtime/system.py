"""The whole system on one machine: infrastructure, schema, topics and the service processes.

`impactline run` and the end-to-end tests both start the system through `start_system`.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from impactline.core import topics
from impactline.runtime.auth import generate_key
from impactline.runtime.db import migrate
from impactline.runtime.kafka import ensure_topics
from impactline.runtime.settings import Settings
from impactline.runtime.supervisor import Supervisor

SERVICES = ("ingest", "correlate", "impact")


@dataclass
class RunningSystem:
    settings: Settings
    supervisor: Supervisor
    ingest_url: str
    api_key: str

    def stop(self) -> None:
        self.supervisor.stop()


async def prepare(settings: Settings) -> None:
    """Schema and topics, before any process needs them."""
    await migrate(settings.require_database())
    await ensure_topics(
        settings.require_kafka(),
        topics.REGISTRY,
        prefix=settings.topic_prefix,
        default_partitions=settings.topic_partitions,
    )


def write_dev_key(state_dir: Path) -> str:
    """A fresh admin key for this run, readable only by its owner, never printed in logs."""
    key = generate_key()
    path = state_dir / "dev-api-key"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def child_env(settings: Settings, api_key: str) -> dict[str, str]:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.require_kafka(),
        "DATABASE_URL": settings.require_database(),
        "IMPACTLINE_STATE_DIR": str(settings.state_dir),
        "IMPACTLINE_TOPIC_PREFIX": settings.topic_prefix,
        "IMPACTLINE_PARTITIONS": str(settings.topic_partitions),
        "IMPACTLINE_CATALOG": ",".join(str(p) for p in settings.catalog_paths),
        "IMPACTLINE_API_KEYS": f"{api_key}=admin",
        "IMPACTLINE_TRACES_EXPORTER": settings.otel_exporter,
    }
    return env


async def start_system(
    settings: Settings, *, ingest_port: int, log_dir: Path, ready_timeout_s: float = 90.0
) -> RunningSystem:
    """Start every service process and wait until ingest is ready; stop them all on failure."""
    await prepare(settings)
    key = write_dev_key(settings.state_dir)
    supervisor = Supervisor(log_dir, child_env(settings, key))
    try:
        supervisor.start("ingest", "serve", "ingest", "--port", str(ingest_port))
        supervisor.start("correlate", "serve", "correlate")
        supervisor.start("impact", "serve", "impact")
        url = f"http://127.0.0.1:{ingest_port}"
        await wait_ready(f"{url}/readyz", supervisor, ready_timeout_s)
    except BaseException:
        supervisor.stop()
        raise
    return RunningSystem(settings, supervisor, url, key)


async def wait_ready(url: str, supervisor: Supervisor, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            supervisor.check()
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s")
            await asyncio.sleep(0.25)
