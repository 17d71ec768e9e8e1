"""Scale: catalogs of 1k / 10k / 100k CIs, and more partitions and workers.

Per catalog size: load time and per-event cost of the pure engines in this process, and the
resident memory of every process of a system running that catalog. Then the sustained
pipeline rate with 1 (and, where `start_system` supports it, 2) workers per stream service on
4 and 8 partitions.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from bench.engines import correlation_costs, impact_costs
from bench.harness import (
    BenchContext,
    bench_settings,
    catalog_for,
    running_system,
    supports_workers,
)
from bench.load_phases import Pipeline
from bench.processes import rss_mib, system_pids
from bench.report import Figure, Section, ratio
from bench.workload import impactful_cis
from impactline.core.catalog import Catalog
from impactline.core.catalog.generator import generate_documents

SIZES = ((100, 1_000), (1_000, 10_000), (10_000, 100_000))
THROUGHPUT_CATALOG = (2_000, 20_000)


def load_seconds(services: int, cis: int) -> tuple[float, Catalog]:
    documents = generate_documents(services, cis, 7)
    gc.collect()
    started = time.perf_counter()
    catalog = Catalog.from_documents(documents)
    _ = catalog.graph
    return time.perf_counter() - started, catalog


async def memory(ctx: BenchContext, services: int, cis: int) -> dict[str, float | None]:
    """Resident memory of each process once a system on this catalog handled its first events."""
    catalog_dir, catalog = catalog_for(ctx, services, cis)
    settings = bench_settings(ctx, f"mem{cis}", catalog_dir)
    async with (
        running_system(settings, ctx.workdir / f"logs-mem-{cis}") as system,
        Pipeline(system, impactful_cis(catalog), "m") as pipeline,
    ):
        await pipeline.warm_up()
        return {
            name: rss_mib(pid)
            for name, pid in system_pids(system).items()
            if name not in ("kafka", "postgres")
        }


async def throughput(ctx: BenchContext, partitions: int, workers: int) -> dict[str, Any]:
    catalog_dir, catalog = catalog_for(ctx, *THROUGHPUT_CATALOG)
    settings = bench_settings(ctx, f"p{partitions}w{workers}", catalog_dir, partitions)
    log_dir = ctx.workdir / f"logs-p{partitions}-w{workers}"
    async with (
        running_system(settings, log_dir, workers=workers) as system,
        Pipeline(system, impactful_cis(catalog), "s") as pipeline,
    ):
        await pipeline.warm_up()
        sustained = await pipeline.sustained(ctx.scaled(10, 8), 3)
    return vars(sustained)


async def run(ctx: BenchContext) -> Section:
    section = Section("scale", "Scale: catalog size, partitions and workers")
    sizes = SIZES[:2] if ctx.quick else SIZES
    per_size: dict[str, Any] = {}
    for services, cis in sizes:
        load_s, catalog = load_seconds(services, cis)
        targets = impactful_cis(catalog)
        corr = correlation_costs(catalog, targets, int(ctx.scaled(5_000, 2_000)))
        imp = impact_costs(catalog, targets, int(ctx.scaled(5_000, 2_000)))
        rss = await memory(ctx, services, cis)
        per_size[str(cis)] = {
            "services": services,
            "load_seconds": load_s,
            "correlation": corr,
            "impact": imp,
            "rss_mib": rss,
        }
        label = f"{cis:,} CIs"
        workers = ", ".join(f"{k} {v:,.0f}" for k, v in rss.items() if v is not None)
        section.add(
            Figure(
                f"load_s_{cis}",
                f"{label}: catalog load (validate + graph)",
                load_s,
                "s",
                f"{services:,} business services",
            ),
            Figure(
                f"correlate_us_{cis}",
                f"{label}: CorrelationEngine per event",
                corr["event_us"],
                "us",
                "+ worker state round trip "
                f"{corr['tracker_round_trip_us'] + corr['domain_encode_us']:.0f} us",
            ),
            Figure(
                f"impact_us_{cis}",
                f"{label}: ImpactEngine.on_health per event",
                imp["event_us"],
                "us",
                f"on_tick {imp['tick_per_episode_us']:.1f} us per open episode",
            ),
            Figure(
                f"rss_max_mib_{cis}",
                f"{label}: largest process RSS",
                max((v for v in rss.values() if v is not None), default=None),
                "MiB",
                f"per process, MiB: {workers}",
            ),
        )
    runs: dict[str, Any] = {}
    worker_counts = (1, 2) if supports_workers() else (1,)
    if not supports_workers():
        section.notes.append(
            "2-worker runs skipped: start_system has no `workers` parameter in this tree, so one "
            "process per stream service is all the system can start."
        )
    partition_counts = (8,) if ctx.quick else (4, 8)
    for partitions in partition_counts:
        for workers in worker_counts:
            runs[f"{partitions}p{workers}w"] = await throughput(ctx, partitions, workers)
    reference_name = "4p1w" if "4p1w" in runs else next(iter(runs))
    reference = runs[reference_name]["input_per_s"]
    for name, result in runs.items():
        partitions, workers = name.rstrip("w").split("p")
        rate = result["input_per_s"]
        section.add(
            Figure(
                f"sustained_{name}",
                f"sustained pipeline, {partitions} partitions x {workers} worker(s) per service",
                rate,
                "ev/s",
                f"{THROUGHPUT_CATALOG[1]:,}-CI catalog"
                if name == reference_name
                else f"{reference_name.replace('p', ' partitions x ').rstrip('w')} worker: "
                f"{reference:,.0f} ev/s ({ratio(rate, reference)})",
            )
        )
    section.details = {"sizes": per_size, "throughput": runs}
    return section
