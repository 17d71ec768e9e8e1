"""The pure cores alone, in this process: what one event costs before any I/O.

The same load as the system benchmarks (CIs toggled down and up), fed straight into the
engines (`CorrelationEngine`, `ImpactEngine`) and into the processors the stream workers run
around them (`CorrelationProcessor`, `ImpactProcessor`: output events built, state changes
noted), plus encoding the changed state once per batch as the workers store it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bench.harness import BENCH_CORRELATION, ROOT
from bench.workload import Target
from impactline.core.calendar import load_calendars
from impactline.core.catalog import Catalog
from impactline.core.contracts import ServiceHealthEvent, TelemetryEvent, derived_id
from impactline.core.correlation import CorrelationConfig, CorrelationContext, Suppressions
from impactline.core.correlation.engine import CorrelationEngine
from impactline.core.correlation.processor import CorrelationProcessor
from impactline.core.experience import ExperiencePolicy
from impactline.core.impact import (
    EpisodeState,
    ImpactEngine,
    load_routing_rules,
    load_scoring_config,
)
from impactline.core.impact.processor import ImpactProcessor
from impactline.core.states import State
from impactline.core.topics import SERVICE_HEALTH, TELEMETRY

BATCH = 500
"""Input records per batch, as a worker under load reads them."""

START = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)


def telemetry(targets: list[Target], n: int, start: datetime = START) -> list[TelemetryEvent]:
    """`n` events over the targets in turn, each CI alternating down and ok, 1 ms apart."""
    down: dict[str, bool] = {}
    events = []
    for i in range(n):
        ci = targets[i % len(targets)].ci_id
        down[ci] = not down.get(ci, False)
        events.append(
            TelemetryEvent(
                id=f"e{i}",
                ci_id=ci,
                state=State.DOWN if down[ci] else State.OK,
                time=start + timedelta(milliseconds=i),
                source="bench",
                summary="synthetic load",
            )
        )
    return events


def health_events(
    targets: list[Target], n: int, catalog_version: int = 0, start: datetime = START
) -> list[ServiceHealthEvent]:
    """`n` service-health events, each service alternating down and ok."""
    services = [s for t in targets for s in t.services]
    down: dict[str, bool] = {}
    events = []
    for i in range(n):
        service = services[i % len(services)]
        down[service] = not down.get(service, False)
        state = State.DOWN if down[service] else State.OK
        events.append(
            ServiceHealthEvent(
                id=derived_id("bench", str(i)),
                service_id=service,
                state=state,
                previous_state=State.OK if state is State.DOWN else State.DOWN,
                time=start + timedelta(milliseconds=i),
                correlation_domain="bench",
                cause_ci_id=targets[0].ci_id,
                cause_event_id=f"h{i}",
                catalog_version=catalog_version,
            )
        )
    return events


def correlation_costs(catalog: Catalog, targets: list[Target], n: int) -> dict[str, Any]:
    """Events/s through both correlation stages, and the state round trips per event."""
    config = CorrelationConfig.from_mapping(BENCH_CORRELATION)
    context = CorrelationContext(catalog.graph, config, Suppressions())
    engine = CorrelationEngine(context)
    events = telemetry(targets, n)
    processor = CorrelationProcessor(context)
    started = time.perf_counter()
    outputs = 0
    for first in range(0, n, BATCH):
        for event in events[first : first + BATCH]:
            outputs += len(processor.handle(TELEMETRY, event))
        orjson.dumps(processor.take_dirty())
    processor_s = time.perf_counter() - started
    started = time.perf_counter()
    changes = 0
    for event in events:
        changes += len(engine.process(event).ci_changes)
    engine_s = time.perf_counter() - started
    # What the worker adds: decode and encode the CI tracker, encode the domain correlator.
    sample = events[: min(n, 5000)]
    started = time.perf_counter()
    for event in sample:
        tracker = engine.trackers[event.ci_id]
        type(tracker).from_dict(tracker.to_dict())
    tracker_s = (time.perf_counter() - started) / len(sample)
    started = time.perf_counter()
    for event in sample:
        engine.domains[engine.domain_of(event.ci_id)].to_dict()
    domain_s = (time.perf_counter() - started) / len(sample)
    return {
        "events": n,
        "ci_changes": changes,
        "events_per_s": n / engine_s,
        "event_us": engine_s / n * 1e6,
        "tracker_round_trip_us": tracker_s * 1e6,
        "domain_encode_us": domain_s * 1e6,
        "processor_events_per_s": n / processor_s,
        "processor_event_us": processor_s / n * 1e6,
        "processor_outputs": outputs,
    }


def impact_engine(catalog: Catalog) -> ImpactEngine:
    deploy = ROOT / "deploy"
    return ImpactEngine(
        catalog,
        load_calendars(deploy / "calendars"),
        load_scoring_config(deploy / "impact" / "scoring.yaml"),
        load_routing_rules(deploy / "impact" / "routing.yaml"),
    )


def impact_costs(catalog: Catalog, targets: list[Target], n: int) -> dict[str, Any]:
    """on_health events/s, on_tick cost per open episode, and the episode round trip."""
    engine = impact_engine(catalog)
    events = health_events(targets, n)
    processor = ImpactProcessor(engine, ExperiencePolicy(), timedelta(seconds=10))
    started = time.perf_counter()
    processor_outputs = 0
    for first in range(0, n, BATCH):
        for event in events[first : first + BATCH]:
            processor_outputs += len(processor.handle(SERVICE_HEALTH, event))
        orjson.dumps(processor.take_dirty())
    processor_s = time.perf_counter() - started
    episodes: dict[str, EpisodeState | None] = {}
    outputs = 0
    started = time.perf_counter()
    for event in events:
        step = engine.on_health(episodes.get(event.service_id), event)
        episodes[event.service_id] = step.state
        outputs += len(step.impacts) + len(step.alerts) + len(step.itsm)
    health_s = time.perf_counter() - started
    # Every service down at once: the ticks then walk one open episode each.
    services = sorted({e.service_id for e in events})
    open_episodes: list[EpisodeState] = []
    for i, service in enumerate(services):
        step = engine.on_health(
            episodes.get(service),
            ServiceHealthEvent(
                id=derived_id("bench-open", service),
                service_id=service,
                state=State.DEGRADED,
                previous_state=State.OK,
                time=START + timedelta(seconds=10),
                correlation_domain="bench",
                cause_ci_id=targets[0].ci_id,
                cause_event_id=f"open{i}",
                catalog_version=0,
            ),
        )
        if step.state is not None:
            open_episodes.append(step.state)
    rounds = 5
    started = time.perf_counter()
    for k in range(1, rounds + 1):
        now = START + timedelta(seconds=10 + k)
        for episode in open_episodes:
            engine.on_tick(episode, now)
    tick_s = (time.perf_counter() - started) / max(1, rounds * len(open_episodes))
    started = time.perf_counter()
    for episode in open_episodes:
        EpisodeState.from_dict(episode.to_dict())
    round_trip_s = (time.perf_counter() - started) / max(1, len(open_episodes))
    return {
        "events": n,
        "outputs": outputs,
        "events_per_s": n / health_s,
        "event_us": health_s / n * 1e6,
        "open_episodes": len(open_episodes),
        "tick_per_episode_us": tick_s * 1e6,
        "episode_round_trip_us": round_trip_s * 1e6,
        "processor_events_per_s": n / processor_s,
        "processor_event_us": processor_s / n * 1e6,
        "processor_outputs": processor_outputs,
    }
