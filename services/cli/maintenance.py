"""`impactline maintenance`: recurring maintenance windows checked against the business
calendars, and expanded into the maintenance windows correlate reads (docs/what-if.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from impactline.core.calendar import load_calendars
from impactline.core.catalog import CatalogError, load_catalog
from impactline.core.whatif import WhatIfError
from impactline.core.whatif.maintenance import (
    MaintenancePlan,
    Occurrence,
    as_suppressions,
    check_plan,
    load_plan,
)
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Plan recurring maintenance windows with the business calendars' rules.",
    no_args_is_help=True,
)
_PLAN = typer.Argument(..., exists=True, dir_okay=False, help="The maintenance plan (YAML).")


def _open(path: Path, settings: Settings) -> MaintenancePlan:
    folder = settings.calendars_dir
    documents: dict[str, Any] = {}
    if folder is not None:
        for file in sorted(folder.glob("*.y*ml")):
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
            documents[str(data.get("name") or file.stem)] = data
    try:
        return load_plan(yaml.safe_load(path.read_text(encoding="utf-8")), documents, str(path))
    except (WhatIfError, yaml.YAMLError) as exc:
        Console(stderr=True).print(f"[red]invalid plan:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


def _since(text: str | None, settings: Settings) -> datetime:
    if text is None:
        return settings.clock().now().astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"expected an ISO 8601 time, got {text!r}", "--from") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def _row(o: Occurrence) -> dict[str, Any]:
    return {"window": o.window, "start": o.start.isoformat(), "end": o.end.isoformat()}


@app.command()
def check(
    plan_file: Path = _PLAN,
    start_from: str | None = typer.Option(None, "--from", help="ISO 8601; default: now (UTC)."),
    days: int = typer.Option(90, "--days", min=1, max=800, help="Days of occurrences to check."),
    heavy: float = typer.Option(
        2.0, "--heavy", help="Warn when an occurrence crosses a period weighing this or more."
    ),
    strict: bool = typer.Option(False, "--strict", help="Exit 1 when there is a warning."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the occurrences of each window and warn about those that fall in a heavy period
    (month-end close, payroll run) of a business service the window can impair."""
    settings = Settings()
    plan = _open(plan_file, settings)
    try:
        catalog = load_catalog(settings.catalog_paths)
    except CatalogError as exc:
        Console(stderr=True).print(f"[red]invalid catalog:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    calendars = load_calendars(settings.calendars_dir) if settings.calendars_dir else {}
    since = _since(start_from, settings)
    try:
        found, warnings = check_plan(
            plan, catalog, calendars, since, since + timedelta(days=days), heavy
        )
    except WhatIfError as exc:
        Console(stderr=True).print(f"[red]invalid plan:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        document = {
            "occurrences": [_row(o) for o in found],
            "warnings": [
                {
                    **_row(w.occurrence),
                    "service_id": w.service_id,
                    "period": w.period,
                    "weight": w.weight,
                    "message": w.describe(),
                }
                for w in warnings
            ],
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        console = Console()
        for o in found:
            console.print(f"{o.window:<24} {o.start:%a %Y-%m-%d %H:%M}Z - {o.end:%a %H:%M}Z")
        for w in warnings:
            console.print(f"[yellow]warning:[/yellow] {w.describe()}", highlight=False)
        console.print(f"{len(found)} occurrences, {len(warnings)} warnings", highlight=False)
    if strict and warnings:
        raise typer.Exit(1)


@app.command()
def expand(
    plan_file: Path = _PLAN,
    start_from: str | None = typer.Option(None, "--from", help="ISO 8601; default: now (UTC)."),
    days: int = typer.Option(90, "--days", min=1, max=800, help="Days of occurrences."),
) -> None:
    """Print the occurrences as the maintenance windows correlate reads
    (IMPACTLINE_SUPPRESSIONS): failures inside them open no incident, and their impact is
    published as planned."""
    settings = Settings()
    plan = _open(plan_file, settings)
    since = _since(start_from, settings)
    suppressions = as_suppressions(plan.occurrences(since, since + timedelta(days=days)))
    typer.echo(yaml.safe_dump(suppressions.model_dump(mode="json"), sort_keys=False))
