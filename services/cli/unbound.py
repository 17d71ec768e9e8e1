"""`impactline unbound`: events waiting for a binding, and their replay once one exists."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from impactline.cli.dlq import bootstrap_servers
from impactline.core.contracts import UnboundEvent
from impactline.ingest.unbound import (
    NoCatalog,
    UnboundLog,
    UnboundReplay,
    read_unbound,
    replay_unbound,
)
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Events no alias or binding rule found a CI for, kept on the unbound topic.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
InputOpt = Annotated[
    str | None, typer.Option("--input", help="Only events of this input, e.g. alertmanager.")
]
KeyOpt = Annotated[str | None, typer.Option("--key", help="Only events that named this key.")]


@app.command("list")
def list_(input_name: InputOpt = None, key: KeyOpt = None) -> None:
    """List what waits for a binding, per input and key: events, last seen, closest CIs."""
    settings = Settings()

    async def go() -> UnboundLog:
        return await read_unbound(
            await bootstrap_servers(settings),
            settings.topic_prefix,
            lambda line: err.print(line, markup=False),
        )

    waiting = asyncio.run(go()).waiting(input_name, key)
    groups: dict[tuple[str, str], list[UnboundEvent]] = defaultdict(list)
    for event in waiting:
        groups[(event.input, event.key)].append(event)
    table = Table("input", "key", "events", "last seen", "closest CIs", box=None)
    for (name, named), events in sorted(groups.items()):
        latest = max(events, key=lambda e: e.time)
        table.add_row(
            name,
            named,
            str(len(events)),
            f"{latest.time:%Y-%m-%d %H:%M:%S}",
            ", ".join(latest.candidates) or "-",
        )
    if groups:
        out.print(table)
    out.print(
        f"{len(waiting)} event(s) under {len(groups)} key(s) wait for a binding"
        + ("; `impactline bind explain` shows why, item by item" if waiting else ""),
        markup=False,
    )


@app.command("replay")
def replay(
    input_name: InputOpt = None,
    key: KeyOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only bind and report; publish nothing.")
    ] = False,
) -> None:
    """Publish the waiting events that a binding now finds a CI for.

    Each waiting event is bound again with the catalog the system runs with (the last version
    published); those that bind go to telemetry or changes with their own id, so nothing is
    counted twice, and are marked bound. Add the alias or binding rule first
    (`impactline catalog load` or PUT /v1/catalog).

    Exit status: 0 when replayed (even if some still wait), 3 when no catalog was published.
    """
    settings = Settings()

    async def go() -> UnboundReplay:
        return await replay_unbound(
            await bootstrap_servers(settings),
            settings.topic_prefix,
            now=settings.clock().now(),
            input_name=input_name,
            key=key,
            dry_run=dry_run,
            progress=lambda line: err.print(line, markup=False),
        )

    try:
        report = asyncio.run(go())
    except NoCatalog as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(3) from None
    for named, reason in list(report.reasons.items())[:20]:
        err.print(f"still unbound: {named}: {reason}", markup=False)
    rules = ", ".join(f"{rule} {n}" for rule, n in report.by_rule.most_common())
    verb = "would bind" if dry_run else "bound and published"
    out.print(
        f"{verb} {report.bound} event(s)"
        + (f" ({rules})" if rules else "")
        + f"; {report.still_waiting} still wait; {report.bound_before} bound by earlier replays "
        f"(catalog version {report.catalog_version})",
        markup=False,
    )
