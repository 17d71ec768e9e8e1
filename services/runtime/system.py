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
from impactline.core.catalog import load_catalog
from impactline.core.delivery import DeliveryConfigError, load_route_file
from impactline.notify.secrets import Secrets, SecretsMissing
from impactline.runtime.auth import generate_key
from impactline.runtime.catalog_publisher import store_and_publish
from impactline.runtime.db import migrate
from impactline.runtime.embedded.process import free_port
from impactline.runtime.kafka import ensure_topics
from impactline.runtime.settings import Settings
from impactline.runtime.supervisor import Supervisor

SERVICES = ("ingest", "correlate", "impact", "api")
DEFAULT_API_PORT = 8080
DEFAULT_INGEST_PORT = 8081
DEFAULT_NOTIFY_PORT = 8082


@dataclass
class RunningSystem:
    settings: Settings
    supervisor: Supervisor
    ingest_url: str
    api_key: str
    api_url: str
    notify_url: str | None = None
    notify_skipped: str | None = None

    def stop(self) -> None:
        self.supervisor.stop()


async def prepare(settings: Settings) -> int | None:
    """Schema, topics and the catalog files as the current catalog version, before any process
    needs them; returns that version (None when no catalog files are configured)."""
    await migrate(settings.require_database())
    await ensure_topics(
        settings.require_kafka(),
        topics.REGISTRY,
        prefix=settings.topic_prefix,
        default_partitions=settings.topic_partitions,
    )
    if not settings.catalog_paths:
        return None
    catalog = await asyncio.to_thread(load_catalog, settings.catalog_paths)
    return await store_and_publish(settings, catalog, "impactline run")


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
    """These settings as environment variables, so child processes see exactly the same."""
    env = settings.as_environment()
    env["IMPACTLINE_API_KEYS"] = ",".join([*settings.api_keys, f"{api_key}=admin"])
    return env


STREAM_SERVICES = ("correlate", "impact")


def worker_names(service: str, workers: int) -> list[str]:
    """Supervisor names of a stream service's processes: `correlate` for one, else
    `correlate-1` .. `correlate-N`. They share the Faust app id, hence one consumer group."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    return [service] if workers == 1 else [f"{service}-{n}" for n in range(1, workers + 1)]


async def start_system(
    settings: Settings,
    *,
    ingest_port: int,
    log_dir: Path,
    api_port: int | None = None,
    workers: int = 1,
    notify: bool | None = None,
    ready_timeout_s: float = 90.0,
) -> RunningSystem:
    """Start every service process and wait until ingest and the API are ready; stop them all
    on failure. `api_port` None: 8080 when free, else any free port. `workers` processes of
    each stream service join one consumer group (see `worker_names`). `notify` starts the
    delivery service too (None: when the route file loads and every secret it names can be
    read; otherwise `RunningSystem.notify_skipped` says why it was left out)."""
    notify_skipped = None
    if notify is None:
        notify_skipped = notify_unready(settings)
        notify = notify_skipped is None
    names = {service: worker_names(service, workers) for service in STREAM_SERVICES}
    await prepare(settings)
    key = write_dev_key(settings.state_dir)
    supervisor = Supervisor(log_dir, child_env(settings, key))
    try:
        supervisor.start("ingest", "serve", "ingest", "--port", str(ingest_port))
        for service, children in names.items():
            for name in children:
                supervisor.start(name, "serve", service, "--worker-id", name)
        api_port = api_port or free_port(DEFAULT_API_PORT)
        supervisor.start("api", "serve", "api", "--port", str(api_port))
        notify_url = None
        if notify:
            notify_port = free_port(DEFAULT_NOTIFY_PORT)
            supervisor.start("notify", "serve", "notify", "--port", str(notify_port))
            notify_url = f"http://127.0.0.1:{notify_port}"
        url = f"http://127.0.0.1:{ingest_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        await wait_ready(f"{url}/readyz", supervisor, ready_timeout_s)
        await wait_ready(f"{api_url}/readyz", supervisor, ready_timeout_s)
        if notify_url is not None:
            await wait_ready(f"{notify_url}/readyz", supervisor, ready_timeout_s)
        await wait_workers(supervisor, ready_timeout_s)
    except BaseException:
        supervisor.stop()
        raise
    return RunningSystem(settings, supervisor, url, key, api_url, notify_url, notify_skipped)


def notify_unready(settings: Settings) -> str | None:
    """Why the delivery service cannot start here, or None when it can. A destination without
    its secret would only fail every delivery, so a demo without vendor accounts runs without
    delivery rather than failing to start."""
    if settings.notify_routes is None:
        return "no route file (IMPACTLINE_NOTIFY_ROUTES)"
    try:
        route_file = load_route_file(settings.notify_routes)
        Secrets.resolve(route_file, os.environ)
    except DeliveryConfigError as exc:
        return f"{exc.source}: " + "; ".join(exc.problems)
    except SecretsMissing as exc:
        missing = len(str(exc).splitlines()) - 1
        return f"{missing} secret(s) the route file names cannot be read here"
    return None


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


# What a stream worker logs once it has its partitions and their state is restored.
WORKER_READY = "Worker ready"


async def wait_workers(supervisor: Supervisor, timeout_s: float) -> None:
    """Wait until every stream worker has joined its group and restored its tables, so events
    posted next are processed at once rather than after a rebalance."""
    deadline = time.monotonic() + timeout_s
    workers = [c for c in supervisor.children.values() if c.name.startswith(STREAM_SERVICES)]
    while not all(WORKER_READY in c.tail(10_000) for c in workers):
        supervisor.check()
        if time.monotonic() > deadline:
            waiting = [c.name for c in workers if WORKER_READY not in c.tail(10_000)]
            raise TimeoutError(f"stream workers not ready after {timeout_s:.0f}s: {waiting}")
        await asyncio.sleep(0.25)
