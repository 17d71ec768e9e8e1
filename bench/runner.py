"""`python -m bench`: every benchmark in one run, results in bench/results/latest.{json,md}."""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path

from bench import (
    bench_ceiling,
    bench_peer,
    bench_pipeline,
    bench_scale,
    bench_stages,
    bench_storm,
    scripts,
)
from bench.environment import describe
from bench.harness import BenchContext
from bench.report import Section, markdown, print_section
from impactline.runtime.embedded import ensure_infrastructure, stop_infrastructure
from impactline.runtime.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
Benchmark = Callable[[BenchContext], Awaitable[Section]]
# The ceiling runs first: the pipeline is read against it.
BENCHMARKS: dict[str, Benchmark] = {
    "ceiling": bench_ceiling.run,
    "pipeline": bench_pipeline.run,
    "stages": bench_stages.run,
    "storm": bench_storm.run,
    "scale": bench_scale.run,
    "peer": bench_peer.run,
    "catalog": scripts.catalog,
    "ingest": scripts.ingest,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run impactline's benchmarks on the embedded broker and database (or "
        "KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL) and write bench/results/latest.json and "
        "latest.md. Figures are printed next to the baseline each is compared to.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="shorter runs and smaller sizes, for development"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only these benchmarks ({', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--skip", nargs="+", choices=list(BENCHMARKS), metavar="NAME", default=[])
    parser.add_argument(
        "--no-profile", action="store_true", help="leave out the py-spy profile of the pipeline"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (service logs, catalogs)"
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help="folder for latest.json and latest.md"
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    names = [n for n in (args.only or BENCHMARKS) if n not in args.skip]
    print("starting the broker and the database (reused when running)...")
    infra = await ensure_infrastructure(Settings(), progress=lambda m: print(f"  {m}"))
    workdir = Path(tempfile.mkdtemp(prefix="impactline-bench-"))
    args.output.mkdir(parents=True, exist_ok=True)
    ctx = BenchContext(
        infra.bootstrap,
        infra.database_url,
        workdir,
        args.output,
        quick=args.quick,
        profile=not args.no_profile,
    )
    environment = await describe(infra.database_url)
    sections: list[Section] = []
    failed = 0
    started = time.perf_counter()
    try:
        for name in names:
            print(f"\n-- {name} ({time.perf_counter() - started:.0f} s in)")
            try:
                section = await BENCHMARKS[name](ctx)
            except Exception as exc:
                failed += 1
                traceback.print_exc()
                section = Section(name, name, skipped=f"failed: {type(exc).__name__}: {exc}")
            sections.append(section)
            print_section(section)
    finally:
        stopped = await stop_infrastructure(infra)
        if stopped:
            print(f"stopped the embedded {' and '.join(stopped)} this run started")
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    environment["seconds"] = round(time.perf_counter() - started)
    environment["quick"] = args.quick
    write(args.output, sections, environment)
    print(f"\nwrote {args.output / 'latest.json'} and latest.md in {environment['seconds']} s")
    return 1 if failed else 0


def write(folder: Path, sections: list[Section], environment: dict[str, object]) -> None:
    document = {"environment": environment, "results": {s.name: s.to_json() for s in sections}}
    (folder / "latest.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (folder / "latest.md").write_text(markdown(sections, environment))


def main(argv: list[str] | None = None) -> None:
    raise SystemExit(asyncio.run(run(parse_args(argv))))
