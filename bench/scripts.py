"""The standalone benchmark scripts (catalog graph, HTTP ingest), run in their own processes so
their memory figures are their own, and read back from the JSON they write."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from bench.harness import BenchContext
from bench.report import Figure, Section

HERE = Path(__file__).resolve().parent


async def _script(ctx: BenchContext, name: str, *args: str) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "DATABASE_URL": ctx.database_url,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / name), *args, env=env, cwd=HERE.parent
    )
    if await process.wait() != 0:
        raise RuntimeError(f"{name} exited with code {process.returncode}")


async def catalog(ctx: BenchContext) -> Section:
    output = ctx.results_dir / "catalog.json"
    size = ["--services", "1000", "--cis", "10000", "--changes", "5000"] if ctx.quick else []
    await _script(ctx, "bench_catalog.py", "--output", str(output), *size)
    data: dict[str, Any] = json.loads(output.read_text())
    shape = data["catalog"]
    basis = f"{shape['business_services']:,} services, {shape['cis']:,} CIs"
    section = Section("catalog", "Catalog graph (bench_catalog.py)")
    section.add(
        Figure(
            "load_seconds",
            "load, documents -> ready graph",
            data["load_seconds"],
            "s",
            basis,
            "< 5 s",
            data["load_seconds"] < 5,
        ),
        Figure(
            "peak_rss_mib",
            "peak memory (max RSS)",
            data["peak_rss_mib"],
            "MiB",
            basis,
            "< 1 GiB",
            data["peak_rss_mib"] < 1024,
        ),
        Figure(
            "change_mean_us",
            "one CI change, mean",
            data["change_mean_us"],
            "us",
            f"p99 {data['change_p99_us']} us over {data['changes']:,} changes",
            "< 1 ms",
            data["change_mean_us"] < 1000,
        ),
    )
    section.details = data
    return section


async def ingest(ctx: BenchContext) -> Section:
    section = Section("ingest", "HTTP ingest alone (bench_ingest.py)")
    if not (HERE / "bench_ingest.py").exists():
        section.skipped = "bench_ingest.py is not there"
        return section
    await _script(ctx, "bench_ingest.py", "--seconds", "3" if ctx.quick else "6")
    # The script writes next to itself, whatever --output says.
    data: dict[str, Any] = json.loads((HERE / "results" / "ingest.json").read_text())
    baseline = data.get("baseline_aiokafka", {}).get("events_per_s")
    for name, figures in data.get("http", {}).items():
        rate = figures["events_per_s"]
        section.add(
            Figure(
                "http_" + "_".join(name.replace("(", "").replace(")", "").split()),
                f"{name}, {figures['concurrency']} connections",
                rate,
                "ev/s",
                f"bare aiokafka producer {baseline:,.0f} ev/s" if baseline else "",
                note=f"p99 {figures['latency_p99_ms']} ms",
            )
        )
    section.details = data
    return section
