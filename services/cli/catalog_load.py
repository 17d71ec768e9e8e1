"""`impactline catalog load` and `versions`: the stored catalog, from the command line.

Loading a large catalog takes a while (YAML parses at about 1 MB/s), so each stage shows its
progress and reports what it did and how long it took.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import typer
import yaml
from aiokafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from impactline.core import topics, yaml_limits
from impactline.core.catalog import Catalog, CatalogInvalid, CatalogUnreadable, load_catalog
from impactline.core.catalog.loader import catalog_files
from impactline.runtime.catalog_publisher import KafkaCatalogPublisher
from impactline.runtime.catalog_store import CatalogStore, StoredVersion, stored_documents
from impactline.runtime.embedded import (
    EmbeddedServerError,
    Infrastructure,
    ensure_infrastructure,
    stop_infrastructure,
)
from impactline.runtime.kafka import topic_name
from impactline.runtime.settings import Settings, SettingsError

EXIT_INVALID, EXIT_UNREADABLE, EXIT_UNAVAILABLE = 1, 2, 3
# What can go wrong reaching the database or the broker; reported as one line, exit status 3.
UNAVAILABLE = (
    EmbeddedServerError,
    SettingsError,
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    KafkaError,
)


class Stage:
    """One step of the load shown while it runs; `done` sets the line printed when it ends."""

    def __init__(self, progress: Progress, task: TaskID, description: str) -> None:
        self._progress = progress
        self._task = task
        self.summary = description

    def advance(self, amount: float = 1) -> None:
        self._progress.advance(self._task, amount)

    def done(self, summary: str) -> None:
        self.summary = summary


class Stages:
    def __init__(self, console: Console) -> None:
        self.console = console

    @contextmanager
    def stage(self, description: str, total: float | None = None) -> Iterator[Stage]:
        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        started = time.perf_counter()
        with Progress(
            *columns,
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        ) as progress:
            stage = Stage(progress, progress.add_task(description, total=total), description)
            yield stage
        elapsed = time.perf_counter() - started
        self.console.print(f"{stage.summary} [dim]({elapsed:.2f}s)[/dim]")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def human_size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _parse(path: Path) -> Any:
    # The same rules as the catalog loader: .json as JSON (much faster for exports), else YAML.
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else yaml_limits.load(text)


def read_and_validate(files: list[Path], stages: Stages, errors: Console) -> Catalog:
    """The valid catalog, or exit after printing every error the way `validate` does."""
    paths = catalog_files(files)
    documents: list[tuple[str, Any]] = []
    try:
        with stages.stage(f"reading {plural(len(paths), 'file')}", total=len(paths)) as stage:
            size = 0
            for path in paths:
                documents.append((str(path), _parse(path)))
                size += path.stat().st_size
                stage.advance()
            stage.done(f"read {plural(len(paths), 'file')} ({human_size(size)})")
        with stages.stage("validating") as stage:
            catalog = Catalog.from_documents(documents)
            domains = len(catalog.graph.domains())
            stage.done(
                f"valid: {plural(len(catalog.services), 'business service')}, "
                f"{plural(len(catalog.technical_services), 'technical service')}, "
                f"{plural(len(catalog.cis), 'CI')}, {plural(domains, 'correlation domain')}"
            )
        return catalog
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError, CatalogInvalid) as first:
        report_errors(files, first, errors)


def report_errors(files: list[Path], first: BaseException, errors: Console) -> NoReturn:
    """Print every error with file, path and YAML line, then exit like `validate`."""
    # The loader reports each unreadable file and adds YAML lines to rule errors; only this
    # failing path pays for reading the files a second time.
    try:
        load_catalog(files)
        found = first.errors if isinstance(first, CatalogInvalid) else None
        unreadable = False
    except CatalogUnreadable as exc:
        found, unreadable = exc.errors, True
    except CatalogInvalid as exc:
        found, unreadable = exc.errors, False
    if found is None:  # the files changed in between and are fine now
        errors.print(f"error: {first}", markup=False)
        raise typer.Exit(EXIT_UNREADABLE)
    for error in found:
        errors.print(str(error), markup=False)
    if unreadable:
        raise typer.Exit(EXIT_UNREADABLE)
    errors.print(plural(len(found), "error"), markup=False)
    raise typer.Exit(EXIT_INVALID)


class WouldRemoveEverything(Exception):
    """The catalog holds no business service while the current one has some."""


async def store_and_publish(
    settings: Settings, catalog: Catalog, created_by: str, stages: Stages, force: bool = False
) -> int:
    store = await CatalogStore.open(settings.require_database())
    try:
        head = await store.head()
        if head is not None and head.services > 0 and not catalog.services and not force:
            raise WouldRemoveEverything(
                f"the catalog holds no business service and would remove all {head.services} "
                f"of version {head.version} (and its {head.cis} CIs); nothing was stored. Check "
                "the files, or give --force if that is meant"
            )
        with stages.stage("storing") as stage:
            documents = await asyncio.to_thread(stored_documents, catalog)
            before = await store.head_version()
            version = await store.replace(catalog, created_by, documents=documents)
            stage.done(
                f"stored as version {version}"
                if version != before
                else f"unchanged: version {version} already holds this catalog"
            )
    finally:
        await store.close()
    name = topic_name(topics.CATALOG, settings.topic_prefix)
    publisher = KafkaCatalogPublisher(settings.require_kafka(), settings.topic_prefix)
    with stages.stage(f"publishing on topic {name}") as stage:
        await publisher.start()
        try:
            await publisher.publish(version, catalog, documents)
        finally:
            await publisher.stop()
        stage.done(f"published version {version} on topic {name}")
    return version


async def with_infrastructure(
    settings: Settings, stages: Stages
) -> tuple[Settings, Infrastructure]:
    with stages.stage("connecting to PostgreSQL and Kafka") as stage:
        infra = await ensure_infrastructure(settings)
        if infra.started:
            stage.done(f"connected (started the embedded {', '.join(sorted(infra.started))})")
        else:
            stage.done("connected")
    configured = settings.model_copy(
        update={"kafka_bootstrap_servers": infra.bootstrap, "database_url": infra.database_url}
    )
    return configured, infra


def load_command(files: list[Path], created_by: str | None, force: bool = False) -> None:
    out = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    stages = Stages(errors)
    catalog = read_and_validate(files, stages, errors)
    who = created_by or f"cli:{getpass.getuser()}"

    async def run() -> int:
        settings, infra = await with_infrastructure(Settings(), stages)
        try:
            return await store_and_publish(settings, catalog, who, stages, force)
        finally:
            if infra.started:
                # Leave the machine as it was; `impactline dev up` keeps the servers running.
                await stop_infrastructure(infra)

    try:
        version = asyncio.run(run())
    except WouldRemoveEverything as exc:
        errors.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(EXIT_INVALID) from None
    except UNAVAILABLE as exc:
        errors.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    out.print(
        f"catalog version {version}: {plural(len(catalog.services), 'service')}, "
        f"{plural(len(catalog.cis), 'CI')}, {plural(len(catalog.graph.domains()), 'domain')}"
    )


def versions_command(limit: int) -> None:
    out = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)

    async def run() -> list[StoredVersion]:
        infra = await ensure_infrastructure(Settings())
        try:
            store = await CatalogStore.open(infra.database_url)
            try:
                return await store.versions(limit)
            finally:
                await store.close()
        finally:
            if infra.started:
                await stop_infrastructure(infra)

    try:
        found = asyncio.run(run())
    except UNAVAILABLE as exc:
        errors.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    if not found:
        errors.print("no catalog stored yet; `impactline catalog load FILES...` stores one")
        return
    table = Table("version", "created", "by", "services", "CIs", "domains", "fingerprint")
    for v in found:
        table.add_row(
            str(v.version),
            v.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            v.created_by,
            f"{v.services:,}",
            f"{v.cis:,}",
            f"{v.domains:,}",
            v.fingerprint.removeprefix("sha256:")[:10],
        )
    out.print(table)
