"""`impactline change assess`: what a planned change would cost if it failed, and when it
would cost least (docs/what-if.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.table import Table

from impactline.core.catalog import CatalogError, load_catalog
from impactline.core.correlation import parse_duration
from impactline.core.states import State
from impactline.core.whatif import Condition, WhatIfError
from impactline.core.whatif.change_risk import ChangeAssessment, ChangePlan, assess_change
from impactline.core.whatif.documents import assessment_document
from impactline.runtime.settings import Settings
from impactline.runtime.whatif import whatif_model

app = typer.Typer(
    help="Weigh planned changes against the business calendar before they happen.",
    no_args_is_help=True,
)


def parse_conditions(values: list[str]) -> tuple[Condition, ...]:
    """`db-gl-01` (down) or `db-gl-01:degraded`."""
    found = []
    for value in values:
        ci_id, _, state = value.partition(":")
        try:
            found.append(Condition(ci_id.strip(), State(state.strip() or "down")))
        except ValueError:
            raise typer.BadParameter(
                f"expected CI or CI:down or CI:degraded, got {value!r}", param_hint="--ci"
            ) from None
    return tuple(found)


def parse_time(text: str, zone: tzinfo, hint: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"expected an ISO 8601 time such as 2026-11-30T10:00, got {text!r}", param_hint=hint
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)).astimezone(UTC)


def parse_length(text: str, hint: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=hint) from None


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"unknown time zone {name!r}", param_hint="--tz") from None


@app.command()
def assess(
    cis: list[str] = typer.Option(
        ...,
        "--ci",
        help="A CI the change touches and the state it would be in if the change fails: "
        "`db-gl-01` (down) or `app-gl-01:degraded`. Repeat for several.",
    ),
    at: str = typer.Option(
        ..., "--at", help="Start of the planned window, ISO 8601 (without offset: in --tz)."
    ),
    duration: str = typer.Option(..., "--duration", help="Length of the planned window: 2h, 90m."),
    risk: float = typer.Option(
        1.0, "--risk", min=0.0, max=1.0, help="Probability that the change fails, 0 to 1."
    ),
    outage: str | None = typer.Option(
        None, "--outage", help="How long the CIs would be out if it fails. Default: the window."
    ),
    start_from: str | None = typer.Option(
        None,
        "--from",
        help="Search alternative windows from this time (ISO 8601). Default: now.",
    ),
    days: int = typer.Option(14, "--days", min=1, max=90, help="Days to search."),
    step: str = typer.Option("1h", "--step", help="Spacing of candidate starts (at least 15m)."),
    proposals: int = typer.Option(5, "--proposals", min=1, max=50, help="Windows to propose."),
    zone_name: str = typer.Option("UTC", "--tz", help="Time zone for input and output times."),
    catalog_paths: list[Path] | None = typer.Option(
        None, "--catalog", help="Catalog files or folders. Default: $IMPACTLINE_CATALOG."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the assessment as JSON: the `assessment` to record with the change.",
    ),
) -> None:
    """Expected and worst-case business impact minutes of a planned change window, the
    calendar periods it crosses, the people it would hit, and the least harmful windows of
    the same length in the next days, ranked and explained."""
    err = Console(stderr=True)
    zone = _zone(zone_name)
    settings = Settings()
    try:
        catalog = load_catalog(catalog_paths or settings.catalog_paths)
    except CatalogError as exc:
        err.print(f"[red]invalid catalog:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    plan = ChangePlan(
        conditions=parse_conditions(cis),
        start=parse_time(at, zone, "--at"),
        duration=parse_length(duration, "--duration"),
        risk=risk,
        outage=parse_length(outage, "--outage") if outage else None,
        days=days,
        step=parse_length(step, "--step"),
        proposals=proposals,
    )
    now = settings.clock().now()
    scan_from = parse_time(start_from, zone, "--from") if start_from else now
    try:
        assessment = assess_change(whatif_model(settings, catalog), plan, scan_from)
    except WhatIfError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(
            json.dumps(
                assessment_document(assessment, assessed_at=now).model_dump(mode="json"), indent=2
            )
        )
        return
    render(Console(width=160), assessment, zone)


def _span(start: datetime, end: datetime, zone: tzinfo) -> str:
    a, b = start.astimezone(zone), end.astimezone(zone)
    tail = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %Y-%m-%d %H:%M}"
    return f"{a:%a %Y-%m-%d %H:%M}-{tail} {a:%Z}"


def _length(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if hours and rest else (f"{hours} h" if hours else f"{rest} min")


def render(console: Console, a: ChangeAssessment, zone: tzinfo) -> None:
    sim, plan = a.simulation, a.plan
    what = ", ".join(f"{c.ci_id} {c.state.value}" for c in sim.conditions)
    out = plan.outage or plan.duration

    def line(label: str, text: str) -> None:
        console.print(f"{label:<13}{text}", highlight=False)

    line("change", f"{what} for {_length(plan.duration)}, {_span(sim.start, sim.end, zone)}")
    line("risk", f"{plan.risk:.0%} of failure; assumed outage {_length(out)}")
    visibility = ", high visibility" if sim.high_visibility else ""
    line(
        "worst case",
        f"{a.worst_case_minutes:,.0f} business impact minutes "
        f"({sim.worst_priority or 'no priority'}{visibility})",
    )
    line("expected", f"{a.expected_minutes:,.0f} business impact minutes")
    line("periods", ", ".join(f"{p} x{w:g}" for p, w in a.planned.periods) or "none")
    line("people hit", f"{sim.users_affected} in {len(sim.services)} business services")
    table = Table(
        "service", "state", "people", "personas", "periods", "minutes", "priority", box=None
    )
    for s in sim.services:
        periods = ", ".join(f"{p.period} x{p.weight:g} ({p.minutes:.0f} min)" for p in s.periods)
        flag = " HIGH VISIBILITY" if s.high_visibility else ""
        states = {p.state.value for p in s.curve if p.state is not State.OK}
        table.add_row(
            s.service_id,
            "/".join(sorted(states)),
            str(s.users_affected),
            ", ".join(s.personas),
            periods,
            f"{s.business_impact_minutes:,.0f}",
            f"{s.worst_priority}{flag}",
        )
    console.print(table)
    console.print(
        f"\nleast harmful windows of {_length(plan.duration)} from "
        f"{a.scan_from.astimezone(zone):%Y-%m-%d %H:%M %Z} for {plan.days} days "
        f"({a.candidates} windows scored)",
        highlight=False,
    )
    ranked = Table("rank", "window", "minutes", "expected", "people", "periods", "why", box=None)
    for o in a.options:
        ranked.add_row(
            str(o.rank),
            _span(o.cost.start, o.cost.end, zone),
            f"{o.worst_case_minutes:,.0f}",
            f"{o.expected_minutes:,.0f}",
            str(o.cost.users_affected),
            ", ".join(f"{p} x{w:g}" for p, w in o.cost.periods),
            "; ".join(o.reasons[1:]),
        )
    console.print(ranked)
    if a.best is not None and a.ratio_to_best is not None:
        console.print(
            f"\nbest window {_span(a.best.cost.start, a.best.cost.end, zone)}: "
            f"{a.best.worst_case_minutes:,.0f} minutes; the planned window "
            f"({', '.join(f'{p} x{w:g}' for p, w in a.planned.periods)}) costs "
            f"{a.ratio_to_best:.1f}x as much",
            highlight=False,
        )
