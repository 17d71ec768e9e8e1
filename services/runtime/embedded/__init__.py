"""Local Kafka and PostgreSQL for development, tests and the demo.

`KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` always win: a configured server is used as it is and
the matching embedded one is never started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from impactline.runtime.embedded.kafka import EmbeddedKafka
from impactline.runtime.embedded.postgres import EmbeddedPostgres, mask_password
from impactline.runtime.embedded.process import (
    EmbeddedServerError,
    Progress,
    ServerStatus,
    no_progress,
)
from impactline.runtime.settings import Settings

__all__ = [
    "EmbeddedKafka",
    "EmbeddedPostgres",
    "EmbeddedServerError",
    "Infrastructure",
    "ServerStatus",
    "ensure_infrastructure",
    "infrastructure_status",
    "install",
    "mask_password",
    "stop_infrastructure",
]


@dataclass(frozen=True)
class Infrastructure:
    """Where the broker and the database are; unpacks as `(bootstrap, database_url)`."""

    bootstrap: str
    database_url: str = field(repr=False)
    state_dir: Path
    # Names of the embedded servers this call started (not reused, not configured).
    started: frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[str]:
        return iter((self.bootstrap, self.database_url))


async def ensure_infrastructure(
    settings: Settings, progress: Progress = no_progress
) -> Infrastructure:
    """Configured servers as they are; otherwise reuse or start the embedded ones (concurrently)."""
    kafka = None if settings.kafka_bootstrap_servers else EmbeddedKafka(settings)
    postgres = None if settings.database_url else EmbeddedPostgres(settings)

    async def bootstrap() -> str:
        return await kafka.start(progress) if kafka else str(settings.kafka_bootstrap_servers)

    async def database() -> str:
        return await postgres.start(progress) if postgres else str(settings.database_url)

    results = await asyncio.gather(bootstrap(), database(), return_exceptions=True)
    started = frozenset(s.name for s in (kafka, postgres) if s is not None and s.started_here)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        # Leave nothing half-started behind: stop what this call started, then report.
        await asyncio.to_thread(_stop, settings.state_dir, started)
        raise failures[0]
    return Infrastructure(str(results[0]), str(results[1]), settings.state_dir, started)


async def stop_infrastructure(
    infra: Infrastructure | None = None, settings: Settings | None = None
) -> list[str]:
    """Stop what `infra` started, or with no `infra` every embedded server; returns their names."""
    if infra is not None:
        return await asyncio.to_thread(_stop, infra.state_dir, infra.started)
    state_dir = (settings or Settings()).state_dir
    return await asyncio.to_thread(_stop, state_dir, frozenset({"kafka", "postgres"}))


def _stop(state_dir: Path, names: frozenset[str]) -> list[str]:
    settings = Settings(state_dir=state_dir)
    stopped: list[str] = []
    if "kafka" in names and _kafka_for_stop(settings).stop():
        stopped.append("kafka")
    if "postgres" in names and EmbeddedPostgres(settings).stop():
        stopped.append("postgres")
    return stopped


def _kafka_for_stop(settings: Settings) -> EmbeddedKafka:
    """Stopping needs only the state file, so a missing pom must not prevent it."""
    try:
        return EmbeddedKafka(settings)
    except EmbeddedServerError:
        return EmbeddedKafka(settings.model_copy(update={"kafka_version": "unknown"}))


def infrastructure_status(settings: Settings) -> list[ServerStatus]:
    return [_kafka_for_stop(settings).status(), EmbeddedPostgres(settings).status()]


def install(settings: Settings, progress: Progress = no_progress) -> None:
    """Fetch what the embedded servers need (Kafka jars, a PostgreSQL server) without starting."""
    if not settings.kafka_bootstrap_servers:
        progress(f"Kafka jars: {EmbeddedKafka(settings).ensure_installed(progress)}")
    if not settings.database_url:
        progress(f"PostgreSQL server: {EmbeddedPostgres(settings).ensure_installed(progress)}")
