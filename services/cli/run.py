"""`impactline run`: the whole system on embedded defaults, a demo scenario, live impact events."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import httpx
import typer
import yaml
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from rich.console import Console

from impactline.core import cloudevents, topics, yaml_limits
from impactline.core.calendar import load_calendars
from impactline.core.contracts import ImpactEvent
from impactline.core.scenario import Scenario, ScenarioClock, ScenarioError
from impactline.runtime.db import fresh_database
from impactline.runtime.embedded import ensure_infrastructure, stop_infrastructure
from impactline.runtime.embedded.process import free_port
from impactline.runtime.kafka import delete_topics, open_tail, topic_name
from impactline.runtime.settings import SOURCE_ROOT, Settings
from impactline.runtime.system import DEFAULT_INGEST_PORT, RunningSystem, start_system

console = Console(highlight=False)
DEMO_PREFIX = "demo."
DEMO_DATABASE = "impactline_demo"
DEFAULT_SCENARIO = (SOURCE_ROOT or Path(".")) / "deploy" / "scenarios" / "demo.yaml"


def run(
    scenario: Annotated[
        Path, typer.Option(help="Scenario to play once the system is up.", exists=True)
    ] = DEFAULT_SCENARIO,
    duration: Annotated[
        float | None, typer.Option(help="Stop after this many seconds (default: until Ctrl-C).")
    ] = None,
    ingest_port: Annotated[
        int | None,
        typer.Option(help="Port of the ingest API (default: 8081, or a free one when taken)."),
    ] = None,
    keep_infra: Annotated[
        bool, typer.Option(help="Leave the embedded Kafka and PostgreSQL running on exit.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Processes per stream service (correlate, impact), one group."),
    ] = 1,
) -> None:
    """Start Kafka, PostgreSQL and every service, play the demo scenario, print impact events."""
    try:
        plan = Scenario.model_validate(yaml_limits.load(scenario.read_text()))
    except (ValidationError, yaml_limits.YamlLimitExceeded, yaml.YAMLError) as exc:
        console.print(f"[red]error:[/red] {scenario}: {exc}")
        raise typer.Exit(2) from None
    settings = Settings()
    calendars = load_calendars(settings.calendars_dir) if settings.calendars_dir else {}
    try:
        anchors = plan.resolve(calendars, settings.clock().now())
    except ScenarioError as exc:
        console.print(f"[red]error:[/red] {scenario}: {exc}")
        raise typer.Exit(2) from None
    if plan.clock is not None:
        # Every process runs as if it were a minute before the story's live moment, so the
        # story's events are recent history and live moment to everything that reads a clock.
        ahead = anchors[plan.clock] - timedelta(minutes=1) - settings.clock().now()
        settings = settings.model_copy(
            update={"clock_offset_seconds": settings.clock_offset_seconds + ahead.total_seconds()}
        )
    # SIGTERM stops everything as Ctrl-C does (the main task is cancelled, `finally` runs).
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        try:
            asyncio.run(_run(plan, anchors, settings, duration, ingest_port, keep_infra, workers))
        except (RuntimeError, TimeoutError) as exc:
            # A service that did not come up: its own log lines say why, a traceback would not.
            console.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
            console.print("[bold]stopped[/bold]: every process this run started has exited")
            raise typer.Exit(1) from None
    console.print("[bold]stopped[/bold]: every process this run started has exited")


async def _run(
    plan: Scenario,
    anchors: dict[str, datetime],
    settings: Settings,
    duration: float | None,
    ingest_port: int | None,
    keep: bool,
    workers: int = 1,
) -> None:
    started = time.monotonic()
    main = asyncio.current_task()
    assert main is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    console.print(
        "[bold]impactline[/bold]: starting Kafka and PostgreSQL (first run installs them)"
    )
    infra = await ensure_infrastructure(settings)
    settings = await _demo_namespace(settings, infra.bootstrap, infra.database_url)
    log_dir = settings.state_dir / "logs"
    system: RunningSystem | None = None
    try:
        console.print("starting ingest, correlate and impact ...")
        system = await start_system(
            settings,
            ingest_port=ingest_port or free_port(DEFAULT_INGEST_PORT),
            log_dir=log_dir,
            workers=workers,
        )
        console.print(f"ready after {time.monotonic() - started:.1f}s\n")
        system.supervisor.watch(lambda line: console.print(f"[bold red]{line}[/bold red]"))
        _print_where_to_look(system, infra.bootstrap, log_dir)
        # Positioned before the first event is posted, so every impact of the scenario shows.
        tail = await open_tail(
            settings.require_kafka(), topic_name(topics.IMPACT, settings.topic_prefix)
        )
        watcher = asyncio.create_task(_print_impacts(tail))
        await _play(plan, anchors, system)
        if duration is not None:
            while time.monotonic() - started < duration:
                system.supervisor.check()
                await asyncio.sleep(min(1.0, max(0.0, duration - (time.monotonic() - started))))
        else:
            console.print("\n[dim]Ctrl-C stops everything.[/dim]")
            while True:
                system.supervisor.check()
                await asyncio.sleep(1)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    finally:
        if system is not None:
            system.stop()
        if not keep:
            # Emptied on the way out, so the next start has nothing to wait for; kept with
            # --keep-infra for whoever wants to look at them.
            await delete_topics(settings.require_kafka(), settings.topic_prefix)
            await stop_infrastructure(infra)


async def _demo_namespace(settings: Settings, bootstrap: str, server_url: str) -> Settings:
    """Settings whose topics (prefix `demo.`) and database (`impactline_demo`) hold nothing
    from an earlier run: a run deletes its topics when it ends, and these are the leftovers of
    one that was killed or kept its infrastructure. The scenario's days move with the calendar
    and its event ids are stable, so state kept from yesterday's run would hide today's story
    as duplicates; and only names of the demo's own are emptied, whichever servers are
    configured."""
    prefix = f"{settings.topic_prefix}{DEMO_PREFIX}"
    await delete_topics(bootstrap, prefix)
    database_url = await fresh_database(server_url, DEMO_DATABASE)
    return settings.model_copy(
        update={
            "kafka_bootstrap_servers": bootstrap,
            "database_url": database_url,
            "topic_prefix": prefix,
        }
    )


def _print_where_to_look(system: RunningSystem, bootstrap: str, log_dir: Path) -> None:
    key_file = system.settings.state_dir / "dev-api-key"
    console.print(f"  [bold]dashboard[/bold]      {system.api_url}/   (paste the API key once)")
    console.print(f"  ingest API     {system.ingest_url}/docs   (POST /v1/events)")
    console.print(f"  query API      {system.api_url}/docs   (services, incidents, catalog)")
    if system.notify_url is not None:
        console.print(f"  notify         {system.notify_url}/docs   (deliveries, back-sync)")
    elif system.notify_skipped is not None:
        console.print(f"  notify         not started: {system.notify_skipped}", markup=False)
        console.print("                 (`impactline deliveries check` lists them)")
    console.print(f"  API key        in {key_file} (admin scope, new each run)")
    prefix = system.settings.topic_prefix
    console.print(
        f"  Kafka          {bootstrap}   topics: {prefix}impact.all, {prefix}impact.<domain>, ..."
    )
    console.print(f"  logs           {log_dir}/")
    console.print("")


async def _play(plan: Scenario, anchors: dict[str, datetime], system: RunningSystem) -> None:
    console.print(f"[bold]scenario[/bold] {plan.name}: {plan.description.strip()}")
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with httpx.AsyncClient(base_url=system.ingest_url, headers=headers) as client:
        clock = ScenarioClock()
        wall = system.settings.clock()
        for n, step in enumerate(plan.steps):
            await asyncio.sleep(step.after_seconds)
            at = clock.time_of(plan.time_of(step, anchors), wall.now())
            event = step.event(at, plan.name, n)
            response = await client.post("/v1/events", content=event.model_dump_json())
            response.raise_for_status()
            console.print(
                f"  -> posted {event.ci_id} {event.state.value} at {event.time:%Y-%m-%d %H:%M} "
                f"UTC: {event.summary}"
            )


async def _print_impacts(consumer: AIOKafkaConsumer) -> None:
    try:
        shown_json = False
        async for msg in consumer:
            event: ImpactEvent = cloudevents.decode(topics.IMPACT, msg.value, msg.headers).event  # type: ignore[assignment]
            console.print(format_impact(event), soft_wrap=True)
            if not shown_json:
                # One event in full, so the contract SRE teams subscribe to is visible as it is.
                console.print_json(msg.value.decode())
                shown_json = True
    finally:
        await consumer.stop()


def format_impact(event: ImpactEvent) -> str:
    """One line an on-call engineer can read: what, when, how many, how much it weighs."""
    weight = (
        f"{event.calendar.period} x{event.calendar.weight:g}" if event.calendar else "unweighted"
    )
    flags = " [bold red]HIGH VISIBILITY[/bold red]" if event.high_visibility else ""
    return (
        f"[bold]impact[/bold] {event.service_id} {event.state.value} ({event.reason.value}) "
        f"at {event.time:%Y-%m-%d %H:%M:%S} UTC: {event.users_affected} users, {weight}, "
        f"rate {event.impact_rate:.1f}/min, {event.business_impact_minutes:.1f} business impact "
        f"minutes, {event.priority or 'no priority'}{flags}"
    )
