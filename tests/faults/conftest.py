"""Fault injection on the real system: its own broker and database, which tests stop and start.

The broker and the database of this suite are private (their own state directory, the Kafka
jars shared with the usual embedded broker), so stopping them never disturbs other tests. Where
`KAFKA_BOOTSTRAP_SERVERS` / `DATABASE_URL` point at servers of their own, those are used and the
tests that must stop a server are skipped.

`IMPACTLINE_FAULTS=full` runs the measured sizes (`make test-faults`); by default the same tests
run with small sizes, as part of `make test`.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from impactline.core.contracts import TelemetryEvent
from impactline.runtime.clock import SYSTEM
from impactline.runtime.db import scratch_database
from impactline.runtime.embedded import EmbeddedKafka, EmbeddedPostgres
from impactline.runtime.embedded.process import run_blocking
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem, start_system
from tests.e2e.conftest import free_port
from tests.faults.accounting import Figures, observe
from tests.faults.workload import Expected, Workload, catalog_document, ci_id, service_id
from tests.helpers import wait_for

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "config"
RESULTS = HERE / "results"
WARM_UP = "warmup"


@dataclass(frozen=True)
class Scale:
    name: str
    events: int  # events of the run with the kills
    fault_events: int  # events of the other runs with a fault
    slow_events: int  # burst of the slow consumer test
    cis: int  # CIs of one run
    outage_s: float  # how long the broker stays down
    settle_s: float  # longest wait for the system to catch up after a run


SCALES = {
    "full": Scale("full", 50_000, 10_000, 50_000, 1_000, 30.0, 900.0),
    "quick": Scale("quick", 3_000, 1_500, 4_000, 120, 8.0, 240.0),
}


@pytest.fixture(scope="session")
def scale() -> Scale:
    name = os.environ.get("IMPACTLINE_FAULTS", "quick")
    if name not in SCALES:
        raise pytest.UsageError(f"IMPACTLINE_FAULTS must be one of {sorted(SCALES)}, not {name!r}")
    return SCALES[name]


def _progress(line: str) -> None:
    print(f"[faults] {line}", file=sys.stderr, flush=True)


class FaultServers:
    """The suite's broker and database, with stop and start for fault injection."""

    def __init__(self, state_dir: Path | None) -> None:
        configured = Settings()
        self.state_dir = state_dir
        self.kafka: EmbeddedKafka | None = None
        self.postgres: EmbeddedPostgres | None = None
        self.bootstrap = configured.kafka_bootstrap_servers or ""
        self.database_url = configured.database_url or ""
        if state_dir is not None and not self.bootstrap:
            private = Settings(IMPACTLINE_STATE_DIR=str(state_dir))
            shared = EmbeddedKafka(Settings())
            shared.ensure_installed(_progress)
            self.kafka = EmbeddedKafka(private)
            self.kafka.libs.parent.mkdir(parents=True, exist_ok=True)
            if not self.kafka.libs.exists():
                self.kafka.libs.symlink_to(shared.libs, target_is_directory=True)
        if state_dir is not None and not self.database_url:
            self.postgres = EmbeddedPostgres(Settings(IMPACTLINE_STATE_DIR=str(state_dir)))

    @property
    def broker_restartable(self) -> bool:
        return self.kafka is not None

    @property
    def database_restartable(self) -> bool:
        return self.postgres is not None

    async def start(self) -> None:
        if self.kafka is not None:
            self.bootstrap = await self.kafka.start(_progress)
        if self.postgres is not None:
            self.database_url = await self.postgres.start(_progress)

    async def stop_broker(self) -> None:
        assert self.kafka is not None
        await asyncio.to_thread(self.kafka.stop)

    async def start_broker(self) -> None:
        assert self.kafka is not None
        again = await self.kafka.start(_progress)
        assert again == self.bootstrap, f"the broker came back at {again}, not {self.bootstrap}"

    async def stop_database(self) -> None:
        assert self.postgres is not None
        await asyncio.to_thread(self.postgres.stop)

    async def start_database(self) -> None:
        assert self.postgres is not None
        again = await self.postgres.start(_progress)
        assert again == self.database_url, "the database came back at another address"

    def server_logs(self) -> list[Path]:
        return [s.log_file for s in (self.kafka, self.postgres) if s is not None]

    def stop(self) -> None:
        if self.kafka is not None:
            self.kafka.stop()
        if self.postgres is not None:
            data = self.postgres.data_dir
            self.postgres.stop()
            if data.parent.name.startswith("impactline-pg-"):
                shutil.rmtree(data.parent, ignore_errors=True)
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fault_servers() -> Iterator[FaultServers]:
    state_dir = Path(tempfile.mkdtemp(prefix="impactline-faults-"))
    # The PostgreSQL service account must be able to reach its data directory inside.
    state_dir.chmod(0o755)
    servers = FaultServers(state_dir)
    try:
        run_blocking(servers.start())
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(fault_servers: FaultServers) -> str:
    return fault_servers.bootstrap


@pytest.fixture(scope="session")
def database_url(fault_servers: FaultServers) -> str:
    return fault_servers.database_url


@asynccontextmanager
async def fault_settings(
    servers: FaultServers, groups: dict[str, int], work_dir: Path, **overrides: str
) -> AsyncIterator[Settings]:
    """Settings of one system: a fresh topic prefix and database, a catalog of `groups`."""
    namespace = f"faults_{uuid.uuid4().hex[:8]}"
    catalog = work_dir / "catalog.yaml"
    document = catalog_document({WARM_UP: 1, **groups})
    catalog.write_text(yaml.safe_dump(document, sort_keys=False))
    async with scratch_database(servers.database_url, namespace) as url:
        values = {
            "IMPACTLINE_TOPIC_PREFIX": f"{namespace}.",
            "IMPACTLINE_CATALOG": str(catalog),
            "IMPACTLINE_CORRELATION_CONFIG": str(CONFIG / "correlation.yaml"),
            # Accruals depend on the wall clock and are not accounted: keep them rare.
            "IMPACTLINE_ACCRUAL_SECONDS": "3600",
            "IMPACTLINE_STATE_DIR": str(work_dir / "state"),
            **overrides,
        }
        yield Settings(kafka_bootstrap_servers=servers.bootstrap, database_url=url, **values)


@asynccontextmanager
async def running_system(
    settings: Settings, log_dir: Path, *, workers: int = 1
) -> AsyncIterator[RunningSystem]:
    system = await start_system(
        settings,
        ingest_port=free_port(),
        api_port=free_port(),
        log_dir=log_dir,
        workers=workers,
        ready_timeout_s=120.0,
    )
    try:
        await warm_up(system)
        yield system
    finally:
        await asyncio.to_thread(system.stop)


async def warm_up(system: RunningSystem, timeout_s: float = 240.0) -> None:
    """Wait until one event went all the way through: ingest and the API answer before the
    stream workers have joined their groups, and a fault injected then would hit a start-up."""
    event = TelemetryEvent(ci_id=ci_id(WARM_UP, 0), state="degraded", time=SYSTEM.now())
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        response = await client.post("/v1/events", json=[event.model_dump(mode="json")])
        assert response.status_code == 202, response.text
    probe = Workload(
        WARM_UP, [event.ci_id], [], {event.id: Expected(event.ci_id, service_id(WARM_UP, 0), "")}
    )

    async def through() -> bool:
        seen = await observe(system.settings.require_database(), probe)
        return seen.members.total() > 0 and seen.ledger.total() > 0

    await wait_for(through, timeout=timeout_s, interval=0.5, message="the first event through")


class Measurements:
    """What the suite measured, written to results/<scale>.json at the end of the session."""

    def __init__(self, scale: Scale) -> None:
        self.scale = scale
        self.runs: dict[str, dict[str, Any]] = {}

    def record(self, figures: Figures, **extra: Any) -> None:
        self.runs[figures.fault] = {**figures.as_dict(), **extra}
        self.write()  # at once: a later failure or timeout keeps what was measured

    def note(self, name: str, **values: Any) -> None:
        self.runs[name] = {"fault": name, **values}
        self.write()

    def write(self) -> Path | None:
        if not self.runs:
            return None
        # Only the measured size goes into the repository; the quick one is for a look.
        full = self.scale.name == "full"
        folder = RESULTS if full else Path(tempfile.gettempdir())
        path = folder / ("full.json" if full else f"impactline-faults-{self.scale.name}.json")
        previous: dict[str, Any] = {}
        if path.exists():
            previous = json.loads(path.read_text()).get("runs", {})
        document = {
            "scale": self.scale.name,
            "measured_at": SYSTEM.now().isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}",
            "runs": {**previous, **self.runs},
        }
        folder.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        return path


@pytest.fixture(scope="session")
def measurements(scale: Scale) -> Iterator[Measurements]:
    yield Measurements(scale)
