"""`impactline calendar` commands: inspect and validate business calendars."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from impactline.core.calendar import (
    BusinessCalendar,
    CalendarError,
    default_calendar_directory,
    load_calendar,
    resolve_calendar,
)
from impactline.core.calendar.clock import local_instant
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Inspect and validate business calendars (periods, weights, holidays).",
    no_args_is_help=True,
)

_CALENDAR_HELP = "A calendar file, or the name of one in the calendar directory (e.g. uk-finance)."


def _open(reference: str) -> BusinessCalendar:
    err = Console(stderr=True)
    try:
        return load_calendar(resolve_calendar(reference))
    except FileNotFoundError as error:
        err.print(f"[red]error:[/red] {error}", highlight=False)
    except CalendarError as error:
        err.print(f"[red]invalid calendar:[/red] {error}", highlight=False)
    raise typer.Exit(2)


def _instant(text: str | None, calendar: BusinessCalendar) -> datetime:
    if text is None or text == "now":
        return Settings().clock().now()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO 8601 time such as 2026-11-30T10:00 or 2026-11-30T10:00+00:00, "
            f"got {text!r}",
            param_hint="--at",
        ) from None
    if parsed.tzinfo is None:
        # A time without offset is read on the calendar's own wall clock.
        return local_instant(parsed.date(), parsed.time(), calendar.tz)
    return parsed.astimezone(UTC)


def _describe(calendar: BusinessCalendar, name: str, holiday: str | None) -> str:
    for period in calendar.periods:
        if period.name == name:
            return period.rule.describe()
    if calendar.holiday_period is not None and name == calendar.holiday_period.name:
        return f"public holiday: {holiday}"
    return "no period active"


@app.command()
def explain(
    calendar_ref: str = typer.Argument(..., metavar="CALENDAR", help=_CALENDAR_HELP),
    at: str | None = typer.Option(
        None,
        "--at",
        help="ISO 8601 time; without an offset it is the calendar's local time. Default: now.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object instead of text."),
) -> None:
    """Show the local time, the active periods and the resulting weight at one instant."""
    calendar = _open(calendar_ref)
    instant = _instant(at, calendar)
    verdict = calendar.weight_at(instant)
    local = calendar.local_time(instant)
    change = calendar.next_change_after(instant)
    if as_json:
        document = {
            "calendar": calendar.name,
            "timezone": calendar.timezone,
            "utc": instant.isoformat(),
            "local_time": local.isoformat(),
            "holiday": verdict.holiday,
            "active_periods": [
                {"name": name, "weight": calendar.period_weight(name)} for name in verdict.periods
            ],
            "period": verdict.period,
            "weight": verdict.weight,
            "next_change": change.isoformat() if change else None,
        }
        typer.echo(json.dumps(document, indent=2))
        return
    console = Console()
    console.print(f"calendar     {calendar.name} ({calendar.timezone})", highlight=False)
    console.print(
        f"local time   {local:%A %Y-%m-%d %H:%M %Z} (UTC {instant:%H:%M})", highlight=False
    )
    if verdict.holiday:
        console.print(f"holiday      {verdict.holiday}", highlight=False)
    table = Table("active period", "weight", "rule", box=None, pad_edge=False)
    for name in verdict.periods:
        marker = " <- wins" if name == verdict.period else ""
        table.add_row(
            name + marker,
            f"x{calendar.period_weight(name):g}",
            _describe(calendar, name, verdict.holiday),
        )
    console.print(table)
    console.print(f"weight       {verdict.weight:g} ({verdict.period})", highlight=False)
    if change is not None:
        next_local = calendar.local_time(change)
        console.print(f"next change  {next_local:%A %Y-%m-%d %H:%M %Z}", highlight=False)


@app.command()
def validate(
    calendar_refs: list[str] = typer.Argument(..., metavar="CALENDAR...", help=_CALENDAR_HELP),
) -> None:
    """Load calendars and report every problem; exits 2 when one is invalid."""
    console, err = Console(), Console(stderr=True)
    failed = False
    for reference in calendar_refs:
        try:
            calendar = load_calendar(resolve_calendar(reference))
        except (FileNotFoundError, CalendarError) as error:
            err.print(f"[red]invalid:[/red] {error}", highlight=False)
            failed = True
            continue
        console.print(
            f"ok  {calendar.name} ({calendar.timezone}, {len(calendar.periods)} periods)",
            highlight=False,
        )
    if failed:
        raise typer.Exit(2)


@app.command("list")
def list_calendars(
    directory: Path | None = typer.Option(
        None,
        "--dir",
        help="Calendar directory. Default: $IMPACTLINE_CALENDARS or deploy/calendars.",
    ),
) -> None:
    """List the calendars of the calendar directory with their periods and weights."""
    folder = directory or default_calendar_directory()
    files = sorted(path for path in folder.glob("*.y*ml")) if folder.is_dir() else []
    if not files:
        Console(stderr=True).print(f"no calendar files in {folder}", highlight=False)
        raise typer.Exit(1)
    console = Console()
    for path in files:
        calendar = _open(str(path))
        weights = ", ".join(f"{period.name} x{period.weight:g}" for period in calendar.periods)
        console.print(
            f"{calendar.name:<16} {calendar.timezone:<20} {weights}, "
            f"{calendar.baseline.name} x{calendar.baseline.weight:g}",
            highlight=False,
        )
