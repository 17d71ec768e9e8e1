"""Event sequences and the in-memory pipeline the time-model tests share (unit and end to end):
the same catalog, calendars and scoring as `make run`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from impactline.core import topics
from impactline.core.calendar import load_calendars
from impactline.core.catalog import load_catalog
from impactline.core.contracts import AlertEvent, TelemetryEvent
from impactline.core.correlation import CorrelationConfig, CorrelationContext, Suppressions
from impactline.core.correlation.processor import CorrelationProcessor
from impactline.core.eventtime import TimePolicy
from impactline.core.experience import ExperiencePolicy
from impactline.core.impact import ImpactEngine, load_routing_rules, load_scoring_config
from impactline.core.impact.processor import ImpactProcessor
from impactline.core.pipeline import Pipeline
from impactline.core.processing import Output
from impactline.core.scenario import Scenario, ScenarioClock
from impactline.core.states import State

ROOT = Path(__file__).parents[1]
LONDON = ZoneInfo("Europe/London")
# Thursday 12 November 2026, ten minutes before business hours end at 18:00 (weight 1 -> 0.3)
START = datetime(2026, 11, 12, 17, 50, tzinfo=LONDON).astimezone(UTC)
REPLAYED_AT = datetime(2027, 11, 12, 9, 0, tzinfo=UTC)
POLICY = TimePolicy(allowed_lateness=timedelta(seconds=5), idle_after=timedelta(seconds=1))
CATALOG = load_catalog([ROOT / "deploy" / "catalog"])
CALENDARS = load_calendars(ROOT / "deploy" / "calendars")
SCORING = load_scoring_config(ROOT / "deploy" / "impact" / "scoring.yaml")
ROUTING = load_routing_rules(ROOT / "deploy" / "impact" / "routing.yaml")
CIS = ("db-gl-01", "app-gl-01", "app-gl-02", "db-payroll-01")


def pipeline() -> Pipeline:
    context = CorrelationContext(
        CATALOG.graph, CorrelationConfig(), Suppressions(), catalog_version=1
    )
    engine = ImpactEngine(CATALOG, CALENDARS, SCORING, ROUTING, catalog_version=1)
    experience = ExperiencePolicy(rules=SCORING.rules(), weights=SCORING.xla)
    return Pipeline(
        CorrelationProcessor(context),
        ImpactProcessor(engine, experience, timedelta(seconds=60)),
        POLICY,
    )


def outcome(outputs: list[Output]) -> list[tuple[str, str]]:
    """Everything published but XLA reports and error-budget alerts, order aside."""
    kept = [
        (o.topic.name, o.event.model_dump_json())
        for o in outputs
        if o.topic is not topics.XLA
        and not (isinstance(o.event, AlertEvent) and "/error-budget/" in o.event.dedup_key)
    ]
    return sorted(kept)


def live(events: list[TelemetryEvent], end: datetime) -> list[Output]:
    """Each event read at its own time; the wall clock ticks every second in between."""
    run, out = pipeline(), []
    wall = events[0].time
    for event in events:
        while wall + timedelta(seconds=1) < event.time:
            wall += timedelta(seconds=1)
            out += run.tick(wall)
        wall = event.time
        out += run.event(event, wall)
    return out + run.run_until(end)


def replay(events: list[TelemetryEvent], end: datetime) -> list[Output]:
    """Everything read at once, a year later; one tick after the last event."""
    run, out = pipeline(), []
    for event in events:
        out += run.event(event, REPLAYED_AT)
    return out + run.run_until(end)


def random_ticks(events: list[TelemetryEvent], end: datetime, seed: int) -> list[Output]:
    """Read at their own time, with ticks at random moments between events."""
    rng = random.Random(seed)
    run, out = pipeline(), []
    wall = events[0].time
    for event in events:
        gap = (event.time - wall).total_seconds()
        for offset in sorted(rng.uniform(0, gap) for _ in range(rng.randint(0, 4))):
            out += run.tick(wall + timedelta(seconds=offset))
        wall = event.time
        out += run.event(event, wall)
    return out + run.run_until(end)


def telemetry(steps: list[tuple[int, str, State]]) -> list[TelemetryEvent]:
    at, events = START, []
    for n, (gap, ci, state) in enumerate(steps):
        at += timedelta(seconds=gap)
        events.append(
            TelemetryEvent(id=f"e{n}", ci_id=ci, state=state, time=at, summary=f"{ci} {state}")
        )
    return events


def flapping_ledger() -> list[TelemetryEvent]:
    """The general-ledger database flaps every 20 s across 18:00, then settles down for good;
    a payroll database fails meanwhile."""
    steps: list[tuple[int, str, State]] = []
    for n in range(24):  # 17:50:20 .. 17:58:00, then quiet
        steps.append((20, "db-gl-01", State.DOWN if n % 2 == 0 else State.OK))
    steps.append((300, "db-payroll-01", State.DEGRADED))  # 18:03
    steps.append((420, "db-gl-01", State.DOWN))  # 18:10: down again, stays down
    steps.append((900, "db-payroll-01", State.OK))  # 18:25
    return telemetry(steps)


DEMO = ROOT / "deploy" / "scenarios" / "demo.yaml"


def play_demo(today: datetime) -> list[Output]:
    """`make run`'s scenario played on `today` through the in-memory pipeline, at the pace and
    on the clock `impactline run` uses (the wall clock a minute before the live moment)."""
    plan = Scenario.model_validate(yaml.safe_load(DEMO.read_text()))
    anchors = plan.resolve(CALENDARS, today)
    assert plan.clock is not None
    wall = anchors[plan.clock] - timedelta(minutes=1)
    run, clock, out = pipeline(), ScenarioClock(), []
    for n, step in enumerate(plan.steps):
        target = wall + timedelta(seconds=step.after_seconds)
        while wall + timedelta(seconds=1) <= target:
            wall += timedelta(seconds=1)
            out += run.tick(wall)
        wall = target
        at = clock.time_of(plan.time_of(step, anchors), wall)
        out += run.event(step.event(at, plan.name, n), wall)
    return out
