"""`impactline dlq`: look at the dead-letter topic and replay what can be fixed."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from impactline.ingest.dlq import ReplayReport, StoredLetter, read_letters, replay
from impactline.runtime.embedded import EmbeddedKafka
from impactline.runtime.settings import Settings

app = typer.Typer(
    help="Inspect and replay the dead-letter topic (input that could not be processed).",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
SourceOpt = Annotated[
    str | None,
    typer.Option(help="Only letters of this source, e.g. ingest/raw or ingest/alertmanager."),
]


async def bootstrap_servers(settings: Settings) -> str:
    """KAFKA_BOOTSTRAP_SERVERS, or the embedded broker when `impactline dev up` runs it."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    kafka = EmbeddedKafka(settings)
    if not kafka.status().running:
        raise typer.BadParameter(
            "no broker: set KAFKA_BOOTSTRAP_SERVERS or start the embedded one with "
            "`impactline dev up`",
            param_hint="KAFKA_BOOTSTRAP_SERVERS",
        )
    return await kafka.start()


@app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many, the newest.")] = 50,
    source: SourceOpt = None,
) -> None:
    """List dead letters, oldest first: time, source, where they came from, reason."""
    settings = Settings()

    async def go() -> tuple[list[StoredLetter], int]:
        bootstrap = await bootstrap_servers(settings)
        return await read_letters(bootstrap, settings.topic_prefix, source=source)

    letters, unreadable = asyncio.run(go())
    shown = letters[-limit:]
    table = Table("time", "source", "original topic/offset", "replayed", "reason", box=None)
    for stored in shown:
        dl = stored.letter
        origin = (
            f"{dl.original_topic}/{dl.original_partition}@{dl.original_offset}"
            if dl.original_topic
            else dl.original_headers.get("http-route", "-")
        )
        table.add_row(
            f"{dl.time:%Y-%m-%d %H:%M:%S}",
            dl.source,
            origin,
            "yes" if stored.replayed else "",
            dl.reason if len(dl.reason) <= 160 else dl.reason[:159] + "…",
        )
    if shown:
        out.print(table)
    out.print(
        f"{len(shown)} of {len(letters)} letter(s)"
        + (f"; {unreadable} message(s) on the topic were not dead letters" if unreadable else ""),
        markup=False,
    )


@app.command("replay")
def replay_(
    source: SourceOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only re-validate and report; publish nothing.")
    ] = False,
) -> None:
    """Re-validate letters not replayed yet and publish what is now valid to its topic.

    Telemetry from HTTP or the raw topic goes to `telemetry` (changes to `changes`, feedback to
    `feedback`); letters another worker gave up on go back to their original topic. Letters still
    invalid go back to the dead-letter topic with the new reason. Each letter is replayed once.
    """
    settings = Settings()

    async def go() -> ReplayReport:
        bootstrap = await bootstrap_servers(settings)
        return await replay(
            bootstrap,
            settings.topic_prefix,
            source=source,
            dry_run=dry_run,
            progress=lambda line: err.print(line, markup=False),
        )

    report = asyncio.run(go())
    for reason in report.reasons[:20]:
        err.print(f"still invalid: {reason}", markup=False)
    verb = "would replay" if dry_run else "replayed"
    out.print(
        f"{verb} {report.replayed} letter(s) ({report.events} event(s)); "
        f"{report.still_invalid} still invalid; {report.already_replayed} replayed before",
        markup=False,
    )
