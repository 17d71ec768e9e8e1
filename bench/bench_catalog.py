"""Benchmark: load a large catalog into a ready dependency graph and stream CI changes through it.

    python bench/bench_catalog.py                 # 10,000 services, 100,000 CIs
    python bench/bench_catalog.py --files         # also time reading it from JSON and YAML files

Prints each figure next to its goal and writes them to bench/results/catalog.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from impactline.core.catalog import Catalog, ServiceHealth, load_catalog
from impactline.core.catalog.generator import generate_documents
from impactline.core.states import State

GOALS = {"load_seconds": 5.0, "peak_rss_mib": 1024.0, "change_mean_us": 1000.0}
RESULTS = Path(__file__).resolve().parent / "results" / "catalog.json"
T = TypeVar("T")


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = action()
    return value, time.perf_counter() - start


def peak_rss_mib() -> float:
    # Linux keeps ru_maxrss across exec, so a child of a large process (`make bench` after the
    # scale runs) would report its parent's peak; VmHWM belongs to this program's own memory.
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    # ru_maxrss is KiB on Linux and bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    print(f"generating {args.services:,} services and {args.cis:,} CIs (seed {args.seed})...")
    docs, generate_s = timed(lambda: generate_documents(args.services, args.cis, args.seed))
    rss_documents = peak_rss_mib()

    cpu_start = time.process_time()
    catalog, validate_s = timed(lambda: Catalog.from_documents(docs))
    graph, graph_s = timed(lambda: catalog.graph)
    health, health_s = timed(lambda: ServiceHealth(graph))
    load_s = validate_s + graph_s + health_s
    load_cpu_s = time.process_time() - cpu_start
    rss_loaded = peak_rss_mib()

    rng = random.Random(args.seed)
    states = list(State)
    weights = (50, 10, 20, 20)  # ok, unknown, degraded, down: mostly recoveries and failures
    cis = graph.ci_ids
    costs_us: list[float] = []
    services_changed = 0
    for _ in range(args.changes):
        ci_id = rng.choice(cis)
        state = rng.choices(states, weights)[0]
        start = time.perf_counter_ns()
        changed = health.set_ci_state(ci_id, state)
        costs_us.append((time.perf_counter_ns() - start) / 1000)
        services_changed += len(changed)
    costs_us.sort()

    sample = rng.sample(cis, min(2000, len(cis)))
    _, affected_s = timed(lambda: [graph.services_affected_by(c) for c in sample])
    _, full_s = timed(lambda: graph.service_states({}))
    _, fingerprint_s = timed(lambda: catalog.fingerprint)

    results: dict[str, Any] = {
        "catalog": {
            "business_services": len(catalog.services),
            "technical_services": len(catalog.technical_services),
            "cis": len(catalog.cis),
            "graph_nodes": len(graph),
            "domains": len(graph.domains()),
            "seed": args.seed,
        },
        "load_seconds": round(load_s, 3),
        "load_cpu_seconds": round(load_cpu_s, 3),
        "load_breakdown_seconds": {
            "validate": round(validate_s, 3),
            "graph": round(graph_s, 3),
            "service_health": round(health_s, 3),
        },
        "generate_seconds": round(generate_s, 3),
        "peak_rss_mib": round(rss_loaded, 1),
        "peak_rss_after_generating_documents_mib": round(rss_documents, 1),
        "changes": args.changes,
        "change_mean_us": round(statistics.fmean(costs_us), 2),
        "change_p50_us": round(percentile(costs_us, 0.50), 2),
        "change_p99_us": round(percentile(costs_us, 0.99), 2),
        "change_max_us": round(costs_us[-1], 2),
        "services_changed_per_change": round(services_changed / args.changes, 3),
        "services_affected_by_mean_us": round(affected_s / len(sample) * 1e6, 2),
        "full_recompute_seconds": round(full_s, 3),
        "fingerprint_seconds": round(fingerprint_s, 3),
    }
    if args.files:
        results["json_files_load_seconds"] = round(file_load(docs, ".json"), 3)
        results["yaml_files_load_seconds"] = round(file_load(docs, ".yaml"), 3)
    results["goals"] = GOALS
    results["environment"] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.system(),
    }
    return results


def file_load(docs: list[tuple[str, dict[str, Any]]], suffix: str) -> float:
    """Seconds for `load_catalog` (parse, validate, graph) on the catalog written out as files."""
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    with tempfile.TemporaryDirectory() as directory:
        for name, doc in docs:
            path = Path(directory) / Path(name).with_suffix(suffix).name
            if suffix == ".json":
                text = json.dumps(doc)
            else:
                text = yaml.dump(doc, Dumper=dumper, sort_keys=False)
            path.write_text(text, encoding="utf-8")
        _, seconds = timed(lambda: load_catalog([Path(directory)]).graph)
    return seconds


def report(results: dict[str, Any]) -> bool:
    size = results["catalog"]
    print(
        f"catalog: {size['business_services']:,} business services, "
        f"{size['technical_services']:,} technical services, {size['cis']:,} CIs, "
        f"{size['domains']:,} domains"
    )
    rows = [
        ("load (documents -> ready graph)", results["load_seconds"], "s", "load_seconds"),
        ("peak memory (max RSS)", results["peak_rss_mib"], "MiB", "peak_rss_mib"),
        ("one CI change, mean", results["change_mean_us"], "us", "change_mean_us"),
    ]
    met = True
    for label, value, unit, key in rows:
        goal = GOALS[key]
        ok = value < goal
        met &= ok
        verdict = "met" if ok else "MISSED"
        print(f"  {label:<34} {value:>10,.2f} {unit:<4} goal < {goal:,.0f} {unit}  {verdict}")
    part = results["load_breakdown_seconds"]
    print(
        f"  load breakdown: validate {part['validate']:.2f} s, graph {part['graph']:.2f} s, "
        f"tracker {part['service_health']:.3f} s; CPU time {results['load_cpu_seconds']:.2f} s"
    )
    print(
        f"  one CI change: p50 {results['change_p50_us']:.1f} us, "
        f"p99 {results['change_p99_us']:.1f} us, max {results['change_max_us']:.1f} us "
        f"over {results['changes']:,} changes"
    )
    print(
        f"  services_affected_by: {results['services_affected_by_mean_us']:.1f} us mean "
        f"(first call); full recompute {results['full_recompute_seconds']:.3f} s; "
        f"fingerprint {results['fingerprint_seconds']:.2f} s"
    )
    if "yaml_files_load_seconds" in results:
        print(
            "  from files (parse + validate + graph): "
            f"JSON {results['json_files_load_seconds']:.2f} s, "
            f"YAML {results['yaml_files_load_seconds']:.2f} s"
        )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000, help="business services")
    parser.add_argument("--cis", type=int, default=100_000, help="configuration items")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changes", type=int, default=20_000, help="CI state changes to time")
    parser.add_argument(
        "--files", action="store_true", help="also time loading from JSON and YAML files"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args()
    results = run(args)
    met = report(results)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    if args.check and not met:
        sys.exit(1)


if __name__ == "__main__":
    main()
