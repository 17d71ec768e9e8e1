"""`impactline bind explain`: which rule binds each item of a payload to which CI, or why none."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from impactline.core.binding import Binder
from impactline.core.catalog import CatalogInvalid, load_catalog
from impactline.ingest.config import IngestSettings
from impactline.ingest.explain import ExplainError, explain
from impactline.ingest.webhooks import MappingsInvalid, load_mappings
from impactline.runtime.clock import SYSTEM
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="See how events are bound to catalog CIs (aliases and binding rules).",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

_EXPLAIN_HELP = (
    "Translate FILE as the given input would (an Alertmanager notification, a webhook body, "
    "native events, ...) and print, per item, which binding step bound it to which CI, or why "
    "every step failed and which CIs are closest. Nothing is published.\n\n"
    "The catalog is the configured one (IMPACTLINE_CATALOG) unless --catalog names files, or "
    "--published reads the version the running system uses from the catalog topic.\n\n"
    "Exit status: 0 when every item is bound, 1 when an item would wait for a binding or is "
    "rejected, 2 when the payload, the catalog or the mappings cannot be read."
)


@app.callback()
def _group() -> None:
    """Keep `explain` a sub-command."""


@app.command("explain", help=_EXPLAIN_HELP)
def explain_command(
    file: Annotated[Path, typer.Argument(help="The payload, as the tool posts it (JSON).")],
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="The input: alertmanager, native, cloudevents, pagerduty, changes, or a "
            "webhook mapping's name (grafana, zabbix, uptime-kuma, ...).",
        ),
    ],
    catalog: Annotated[
        list[Path] | None,
        typer.Option("--catalog", help="Catalog files or folders (repeatable)."),
    ] = None,
    published: Annotated[
        bool, typer.Option("--published", help="Use the catalog version the system runs with.")
    ] = False,
) -> None:
    settings = Settings()
    try:
        payload = file.read_bytes()
    except OSError as exc:
        err.print(f"{file}: cannot read the file: {exc.strerror or exc}", markup=False)
        raise typer.Exit(2) from None
    try:
        mappings = load_mappings(IngestSettings().webhooks)
        binder = _binder(settings, catalog, published)
        report = explain(
            binder,
            source,
            payload,
            mappings,
            received_at=SYSTEM.now(),
            ndjson=file.suffix == ".ndjson",
        )
    except (ExplainError, CatalogInvalid, MappingsInvalid, LookupError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from None
    for line in report.lines:
        out.print(line, markup=False)
    out.print(
        f"{report.bound} bound, {report.unbound} waiting for a binding, "
        f"{report.rejected} rejected "
        + (f"(catalog version {binder.version})" if binder.version else "(the catalog files)"),
        markup=False,
    )
    if report.unbound or report.rejected:
        raise typer.Exit(1)


def _binder(settings: Settings, paths: list[Path] | None, published: bool) -> Binder:
    if not published:
        return Binder(load_catalog(paths or settings.catalog_paths), 0)
    from impactline.cli.dlq import bootstrap_servers
    from impactline.runtime.catalog_publisher import catalog_from_event, read_latest_catalog

    async def latest() -> Binder:
        event = await read_latest_catalog(await bootstrap_servers(settings), settings.topic_prefix)
        if event is None:
            raise LookupError("no catalog version was published yet: load one first")
        return Binder(catalog_from_event(event), event.version)

    return asyncio.run(latest())
