"""Pipeline: HTTP ingest to impact events on `impact.all`, the whole system running.

A generated catalog is written to disk, the real processes start under a unique topic prefix,
and the load toggles CIs each of which changes business services nobody else's CI changes, so
nearly every event is a real state change that reaches impact.
"""

from __future__ import annotations

import math
from typing import Any

from bench.harness import BenchContext, bench_settings, catalog_for, running_system
from bench.load_phases import Pipeline
from bench.profiling import print_profiles
from bench.report import Figure, Section, ratio
from bench.workload import impactful_cis

GOAL_RATE = 1_500.0
GOAL_P99_MS = 250.0
SERVICES, CIS = 2_000, 20_000


async def run(ctx: BenchContext) -> Section:
    section = Section("pipeline", "Pipeline: HTTP ingest to impact events")
    catalog_dir, catalog = catalog_for(ctx, SERVICES, CIS)
    targets = impactful_cis(catalog)
    settings = bench_settings(ctx, "pipeline", catalog_dir)
    duration = ctx.scaled(20, 12)
    warm = ctx.scaled(5, 3)
    profiles: dict[str, Any] = {}
    async with (
        running_system(settings, ctx.workdir / "logs-pipeline") as system,
        Pipeline(system, targets, "p") as pipeline,
    ):
        warm_up_s = await pipeline.warm_up()
        sustained = await pipeline.sustained(duration, warm)
        half = max(1.0, sustained.input_per_s / 2)
        latency = await pipeline.latency(half, ctx.scaled(15, 8))
        if ctx.profile:
            profiles = await pipeline.profile(
                ctx.scaled(10, 8), ctx.results_dir / "profiles" / "pipeline"
            )
    ctx.shared["pipeline_per_s"] = sustained.input_per_s
    ctx.shared["pipeline_p99_ms"] = latency.p99_ms
    ceiling = ctx.shared.get("ceiling_relay_per_s")
    rate = sustained.input_per_s
    section.add(
        Figure(
            "sustained_per_s",
            "sustained, telemetry in -> impact out",
            rate,
            "ev/s",
            f"ceiling relay {ceiling:,.0f} ev/s: {ratio(rate, ceiling)}" if ceiling else "",
            f"≥ {GOAL_RATE:,.0f} ev/s",
            rate >= GOAL_RATE,
        ),
        Figure(
            "impacts_per_s",
            "impact events out on impact.all",
            sustained.impacts_per_s,
            "ev/s",
            f"{sustained.impacts_per_s / rate:.2f} per input event" if rate else "",
        ),
        Figure(
            "ingest_during_run_per_s",
            "ingest acknowledged during that run",
            sustained.ingest_per_s,
            "ev/s",
            "kept about 1 s of output ahead of impact (closed loop)",
        ),
    )
    for name, value in (("p50", latency.p50_ms), ("p95", latency.p95_ms), ("p99", latency.p99_ms)):
        section.add(
            Figure(
                f"latency_{name}_ms",
                f"ingest request -> impact event, {name}",
                None if math.isnan(value) else value,
                "ms",
                f"at {latency.achieved_per_s:,.0f} ev/s offered (half the sustained rate)",
                "< 250 ms" if name == "p99" else "",
                (value < GOAL_P99_MS) if name == "p99" and not math.isnan(value) else None,
            )
        )
    cores = ", ".join(f"{k} {v}" for k, v in sustained.cpu_cores.items())
    section.notes += [
        f"Catalog: {SERVICES:,} business services, {CIS:,} CIs; load over {len(targets)} CIs "
        f"whose changes reach disjoint business services; batches of {pipeline.batch} events "
        f"from 8 concurrent senders; {sustained.window_s:.0f} s measured after {warm:.0f} s.",
        f"CPU in cores during the sustained window: {cores}.",
        f"After the sustained window {sustained.lost:,} of {sustained.sent:,} events had no "
        f"impact event within 30 s more; {latency.missing:,} of the latency run's events had "
        "none within 30 s.",
    ]
    section.details = {
        "catalog": {"services": SERVICES, "cis": CIS, "load_cis": len(targets)},
        "warm_up_seconds": round(warm_up_s, 1),
        "calibrated_per_s": round(pipeline.calibrated_per_s, 1),
        "batch": pipeline.batch,
        "sustained": vars(sustained),
        "latency": vars(latency),
        "profiles": profiles,
    }
    if profiles:
        print_profiles(profiles)
        section.notes.append(
            "Profiles (py-spy, 100 Hz, during a further closed-loop run) are in the JSON "
            "results and as collapsed stacks under bench/results/profiles/pipeline/."
        )
    return section
