"""`impactline deliveries`: check the route file, look into the delivery log, replay dead
deliveries after the destination is fixed."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from impactline.cli.keys import database_url
from impactline.core.delivery import DeliveryConfigError, load_route_file
from impactline.notify.admin import list_deliveries, replay
from impactline.notify.secrets import Secrets, SecretsMissing
from impactline.runtime.db import create_pool, migrate
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Check the notify route file, list deliveries, replay dead ones.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DestinationOpt = Annotated[
    str | None, typer.Option(help="Only this destination (route file name).")
]
IncidentOpt = Annotated[str | None, typer.Option("--incident", help="Only this incident's.")]


@app.command()
def check(
    routes: Annotated[
        Path | None,
        typer.Argument(help="The route file; default: IMPACTLINE_NOTIFY_ROUTES."),
    ] = None,
) -> None:
    """Validate a route file and check that every secret it refers to can be read here."""
    path = routes or Settings().notify_routes
    if path is None:
        raise typer.BadParameter("give a route file or set IMPACTLINE_NOTIFY_ROUTES")
    try:
        route_file = load_route_file(path)
    except DeliveryConfigError as exc:
        err.print(f"[red]invalid:[/red] {exc.source}")
        for problem in exc.problems:
            err.print(f"  {problem}", markup=False)
        raise typer.Exit(2) from None
    out.print(
        f"{path}: {len(route_file.destinations)} destination(s), {len(route_file.routes)} "
        f"route(s), {len(route_file.escalation)} escalation target(s)",
        markup=False,
    )
    try:
        Secrets.resolve(route_file, os.environ)
    except SecretsMissing as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    out.print("every secret can be read", markup=False)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="pending, sent, skipped or dead.")] = None,
    destination: DestinationOpt = None,
    incident: IncidentOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, newest first.")] = 50,
) -> None:
    """List deliveries: when, where, what, their state, attempts and the last error."""

    async def go() -> list[dict[str, object]]:
        url = await database_url(Settings())
        await migrate(url)
        pool = await create_pool(url)
        try:
            rows = await list_deliveries(
                pool, status=status, destination=destination, incident_id=incident, limit=limit
            )
            return [dict(r) for r in rows]
        finally:
            await pool.close()

    rows = asyncio.run(go())
    table = Table("updated", "destination", "action", "status", "tries", "ref", "error", box=None)
    for row in rows:
        error = str(row["last_error"] or "")
        table.add_row(
            f"{row['updated_at']:%Y-%m-%d %H:%M:%S}",
            str(row["destination"]),
            f"{row['action']} {row['subject']}",
            str(row["status"]),
            str(row["attempts"]),
            str(row["external_ref"] or ""),
            error if len(error) <= 100 else error[:99] + "\u2026",
        )
    if rows:
        out.print(table)
    out.print(f"{len(rows)} deliveries", markup=False)


@app.command("replay")
def replay_(
    destination: DestinationOpt = None,
    incident: IncidentOpt = None,
    delivery: Annotated[str | None, typer.Option(help="Only this delivery id.")] = None,
    all_dead: Annotated[
        bool, typer.Option("--all", help="Every dead delivery, when no filter is given.")
    ] = False,
) -> None:
    """Send dead deliveries again with a fresh retry budget (once the destination is fixed);
    the running notify process picks them up within a second."""
    if not (destination or incident or delivery or all_dead):
        raise typer.BadParameter(
            "choose what to replay: --destination, --incident, --delivery or --all"
        )

    async def go() -> int:
        settings = Settings()
        url = await database_url(settings)
        await migrate(url)
        pool = await create_pool(url)
        try:
            return await replay(
                pool,
                settings.clock().now(),
                destination=destination,
                incident_id=incident,
                delivery_id=delivery,
            )
        finally:
            await pool.close()

    count = asyncio.run(go())
    out.print(f"{count} dead deliveries are pending again", markup=False)
