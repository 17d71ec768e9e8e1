"""Stages: each service alone on its real input, and the pure cores without any I/O.

- ingest: only the ingest process, HTTP accept to broker acknowledgement;
- correlate: telemetry pre-loaded onto its topic (keyed by correlation domain, as ingest keys
  it), then the worker started: rate of service-health output; and `CorrelationEngine` and the
  worker's `CorrelationProcessor` in this process;
- impact: service-health pre-loaded, then the worker started: rate of impact events; and
  `ImpactEngine.on_health` / `on_tick` and the worker's `ImpactProcessor` in this process.
"""

from __future__ import annotations

from datetime import timedelta

from bench.engines import correlation_costs, health_events, impact_costs, telemetry
from bench.harness import BenchContext, bench_settings, catalog_for
from bench.report import Figure, Section, ratio
from bench.stage_runs import collect, outputs, preload, service_alone, span_rate, start
from bench.workload import Poster, TelemetryFeed, impactful_cis, saturate, split
from impactline.core import topics
from impactline.runtime.clock import SYSTEM

SERVICES, CIS = 2_000, 20_000


async def run(ctx: BenchContext) -> Section:
    section = Section("stages", "Stages alone")
    catalog_dir, catalog = catalog_for(ctx, SERVICES, CIS)
    targets = impactful_cis(catalog)
    window = ctx.scaled(20, 8)
    logs = ctx.workdir / "logs-stages"

    settings = bench_settings(ctx, "ingest", catalog_dir)
    async with service_alone(settings, "ingest", logs / "ingest") as alone:
        poster = Poster(alone.url, alone.key, 8)
        feeds = [TelemetryFeed(cis, f"i{n}") for n, cis in enumerate(split(targets, 8))]
        try:
            await saturate(poster, feeds, None, duration_s=2, batch=100)  # warm-up
            sent = await saturate(poster, feeds, None, duration_s=window, batch=100)
        finally:
            await poster.close()
    ingest_rate = sum(n for _, n in sent.accepted_at) / (sent.ended - sent.started)

    # Sized for tens of seconds at the rates these workers reach; the rate is taken over
    # whatever arrived, so a slower worker is measured all the same.
    pipeline_rate = ctx.shared.get("pipeline_per_s") or 100.0
    n = int(min(ctx.scaled(10_000, 3_000), max(1_500, 60 * pipeline_rate)))
    timeout = ctx.scaled(90, 45)
    settings = bench_settings(ctx, "correlate", catalog_dir)
    async with service_alone(settings, "correlate", logs / "correlate", started=False) as alone:
        events = telemetry(targets, n, SYSTEM.now() - timedelta(milliseconds=n))
        graph = catalog.graph
        await preload(settings, topics.TELEMETRY, [(graph.domain_of(e.ci_id), e) for e in events])
        watched = await outputs(settings, topics.SERVICE_HEALTH)
        await start(alone, "correlate")
        per_event = {t.ci_id: len(t.services) for t in targets}
        expected = sum(per_event[e.ci_id] for e in events)
        await collect(alone, watched, expected=expected, timeout_s=timeout)
    health = watched[0].times
    fanout = expected / n
    health_rate = span_rate(len(health), health[0], health[-1]) if health else 0.0
    correlate_rate = health_rate / fanout

    settings = bench_settings(ctx, "impact", catalog_dir)
    async with service_alone(settings, "impact", logs / "impact", started=False) as alone:
        healths = health_events(
            targets, n, alone.catalog_version, SYSTEM.now() - timedelta(milliseconds=n)
        )
        await preload(settings, topics.SERVICE_HEALTH, [(h.service_id, h) for h in healths])
        watched = await outputs(settings, topics.IMPACT)
        await start(alone, "impact")
        await collect(alone, watched, expected=n, timeout_s=timeout)
    impacts = watched[0].times
    impact_rate = span_rate(len(impacts), impacts[0], impacts[-1]) if impacts else 0.0

    pure_n = int(ctx.scaled(20_000, 5_000))
    corr = correlation_costs(catalog, targets, pure_n)
    imp = impact_costs(catalog, targets, pure_n)
    pipeline = ctx.shared.get("pipeline_per_s")
    versus_pipeline = f"pipeline {pipeline:,.1f} ev/s" if pipeline else ""
    section.add(
        Figure(
            "ingest_per_s",
            "ingest alone: HTTP accept -> broker ack",
            ingest_rate,
            "ev/s",
            versus_pipeline,
            note="batches of 100, 8 connections",
        ),
        Figure(
            "correlate_worker_per_s",
            "correlate worker: telemetry -> service-health",
            correlate_rate,
            "ev/s",
            f"its processor alone {corr['processor_events_per_s']:,.0f} ev/s: "
            f"{ratio(correlate_rate, corr['processor_events_per_s'])}",
            "within 3x of the processor alone",
            correlate_rate * 3 >= corr["processor_events_per_s"],
            note=f"{len(health):,} of {expected:,} service-health events "
            f"({fanout:.2f} per telemetry event)",
        ),
        Figure(
            "correlate_processor_per_s",
            "CorrelationProcessor (both stages, outputs built, state encoded per batch)",
            corr["processor_events_per_s"],
            "ev/s",
            f"{corr['processor_event_us']:.0f} us per event, single core",
        ),
        Figure(
            "correlate_engine_per_s",
            "CorrelationEngine.process (both stages)",
            corr["events_per_s"],
            "ev/s",
            f"{corr['event_us']:.0f} us per event, single core",
        ),
        Figure(
            "correlate_state_us",
            "worker state round trip per event",
            corr["tracker_round_trip_us"] + corr["domain_encode_us"],
            "us",
            f"engine {corr['event_us']:.0f} us per event",
            note=f"tracker to_dict+from_dict {corr['tracker_round_trip_us']:.0f} us, "
            f"domain to_dict {corr['domain_encode_us']:.0f} us",
        ),
        Figure(
            "impact_worker_per_s",
            "impact worker: service-health -> impact.all",
            impact_rate,
            "ev/s",
            f"its processor alone {imp['processor_events_per_s']:,.0f} ev/s: "
            f"{ratio(impact_rate, imp['processor_events_per_s'])}",
            "within 3x of the processor alone",
            impact_rate * 3 >= imp["processor_events_per_s"],
        ),
        Figure(
            "impact_processor_per_s",
            "ImpactProcessor (impact, experience, outputs, state encoded per batch)",
            imp["processor_events_per_s"],
            "ev/s",
            f"{imp['processor_event_us']:.0f} us per event, single core",
        ),
        Figure(
            "impact_engine_per_s",
            "ImpactEngine.on_health",
            imp["events_per_s"],
            "ev/s",
            f"{imp['event_us']:.0f} us per event, {imp['outputs'] / imp['events']:.1f} "
            "outputs each",
        ),
        Figure(
            "impact_tick_us",
            "ImpactEngine.on_tick per open episode",
            imp["tick_per_episode_us"],
            "us",
            f"{imp['open_episodes']:,} open episodes: "
            f"{imp['tick_per_episode_us'] * imp['open_episodes'] / 1000:.1f} ms per tick",
        ),
    )
    slowest = min(
        ("ingest", ingest_rate),
        ("correlate", health_rate),
        ("impact", impact_rate),
        key=lambda x: x[1],
    )
    section.notes.append(
        f"Slowest stage alone: {slowest[0]} at {slowest[1]:,.0f} ev/s; each ran as the only "
        "service process of its run, next to the broker and the database."
    )
    section.details = {
        "ingest": {"events_per_s": ingest_rate, "errors": dict(sent.errors)},
        "correlate_worker": {
            "preloaded": n,
            "service_health": len(health),
            "expected_service_health": expected,
        },
        "impact_worker": {"preloaded": n, "impact_events": len(impacts)},
        "correlation_engine": corr,
        "impact_engine": imp,
    }
    return section
