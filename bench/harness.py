"""What every system-level benchmark shares: the broker and database, a system under a unique
topic prefix (removed afterwards), a generated catalog on disk, and process memory readings."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impactline.core.catalog import Catalog
from impactline.core.catalog.generator import generate_documents
from impactline.runtime.db import scratch_database
from impactline.runtime.embedded.process import free_port
from impactline.runtime.kafka import delete_topics
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem, start_system

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)

# Damping stays as configured except flap holding: the load toggles each CI far more often than
# any real CI changes state, and a held CI would turn the rest of its events into no-ops.
BENCH_CORRELATION = {"damping": {"flap_threshold": 1_000_000}}


@dataclass
class BenchContext:
    """Where the benchmarks run and how long they may take."""

    bootstrap: str
    database_url: str
    workdir: Path
    results_dir: Path
    quick: bool
    profile: bool = True
    shared: dict[str, Any] = field(default_factory=dict)

    def scaled(self, full: float, quick: float) -> float:
        return quick if self.quick else full


def write_catalog(directory: Path, services: int, cis: int, seed: int = 7) -> Catalog:
    """A generated catalog written as JSON files (the fast format for large catalogs)."""
    documents = generate_documents(services, cis, seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, doc in documents:
        (directory / Path(name).with_suffix(".json").name).write_text(json.dumps(doc))
    return Catalog.from_documents(documents)


def catalog_for(ctx: BenchContext, services: int, cis: int) -> tuple[Path, Catalog]:
    """A generated catalog on disk, written once per run and size."""
    key = f"catalog-{services}-{cis}"
    if key not in ctx.shared:
        directory = ctx.workdir / key
        ctx.shared[key] = (directory, write_catalog(directory, services, cis))
    found: tuple[Path, Catalog] = ctx.shared[key]
    return found


def bench_settings(
    ctx: BenchContext, name: str, catalog_dir: Path, partitions: int = 4, **extra: str
) -> Settings:
    """Settings of one system under a fresh topic prefix, so runs never see each other's data."""
    run_dir = ctx.workdir / f"{name}-{uuid.uuid4().hex[:6]}"
    run_dir.mkdir(parents=True)
    correlation = run_dir / "correlation.json"
    correlation.write_text(json.dumps(BENCH_CORRELATION))
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": ctx.bootstrap,
        "database_url": ctx.database_url,
        "IMPACTLINE_TOPIC_PREFIX": f"bench-{name}-{uuid.uuid4().hex[:8]}.",
        "IMPACTLINE_CATALOG": str(catalog_dir),
        "IMPACTLINE_CORRELATION_CONFIG": str(correlation),
        "IMPACTLINE_PARTITIONS": str(partitions),
        "IMPACTLINE_STATE_DIR": str(run_dir / "state"),
        **extra,
    }
    return Settings(**values)


def supports_workers() -> bool:
    """Whether `start_system` can run more than one process per stream service."""
    return "workers" in inspect.signature(start_system).parameters


@asynccontextmanager
async def running_system(
    settings: Settings, log_dir: Path, workers: int = 1
) -> AsyncIterator[RunningSystem]:
    """The whole system on these settings, in a database of its own; stopped, and its topics
    and database dropped, on the way out."""
    options: dict[str, Any] = {
        "ingest_port": free_port(),
        "api_port": free_port(),
        "log_dir": log_dir,
    }
    if workers != 1:
        options["workers"] = workers
    name = settings.topic_prefix.rstrip(".").replace("-", "_")
    async with scratch_database(settings.require_database(), name) as url:
        settings = settings.model_copy(update={"database_url": url})
        system = await start_system(settings, **options)
        try:
            yield system
        finally:
            await asyncio.to_thread(system.stop)
            await delete_topics(settings.require_kafka(), settings.topic_prefix)


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start
