"""Storm: what an incident-correlation system exists for. A major outage sends 100,000 events in
about a minute from 2,000 CIs, most of them repeats of alerts already firing (as Alertmanager
re-sends them), with a share of real state changes, and one P1 cause arrives mid-storm.

Reported: the rate at which the system drains the storm (telemetry read and committed by
correlate), the time from the last event posted until correlate has read everything, the
memory of each process, and the time from the P1's ingest request to its impact event on
`impact.all`. The whole system runs on a clock set inside a month-end close (the scenario
clock of `impactline run`), so that the P1's service weighs 3 and pages.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import TopicPartition

from bench.harness import ROOT, BenchContext, bench_settings, catalog_for, running_system
from bench.processes import rss_mib, system_pids
from bench.report import Figure, Section
from bench.workload import ImpactWatch, Poster, Sent
from impactline.core import topics
from impactline.core.calendar import load_calendars
from impactline.core.catalog import Catalog, ServiceHealth
from impactline.core.scenario import PeriodAnchor, Scenario, Step
from impactline.core.states import State
from impactline.runtime.clock import Clock
from impactline.runtime.kafka import new_admin, new_consumer, open_tail, partition_ids, topic_name
from impactline.runtime.settings import Settings
from impactline.runtime.system import RunningSystem

SERVICES, CIS = 2_000, 20_000
STORM_CIS = 2_000
CHANGE_SHARE = 0.05  # of the storm's events, real state changes; the rest repeat firing alerts
BATCH = 500
SENDERS = 8
GOAL_DRAIN_PER_S = 3_000.0
GOAL_P1_S = 2.0


@dataclass
class Storm:
    """The storm's events, in the order each sender posts them."""

    batches: list[list[list[dict[str, Any]]]] = field(default_factory=list)  # per sender
    changes: int = 0
    repeats: int = 0


def month_end_now(real_now: datetime) -> datetime:
    """10:00 London on the last day of the latest month-end close of uk-finance."""
    plan = Scenario(
        name="storm",
        anchors={
            "close": PeriodAnchor(
                calendar="uk-finance", period="month-end-close", local_time="10:00"
            )
        },
        steps=[Step(after_seconds=0, ci_id="x", state=State.OK)],
    )
    return plan.resolve(load_calendars(ROOT / "deploy" / "calendars"), real_now)["close"]


def storm_cis(catalog: Catalog, count: int, rng: random.Random) -> list[str]:
    """CIs whose failure changes at least one business service."""
    health = ServiceHealth(catalog.graph)
    picked = []
    for ci_id in catalog.graph.ci_ids:
        changed = health.set_ci_state(ci_id, State.DOWN)
        health.set_ci_state(ci_id, State.OK)
        if changed:
            picked.append(ci_id)
    rng.shuffle(picked)
    return picked[:count]


def p1_target(catalog: Catalog, exclude: set[str]) -> tuple[str, str]:
    """A CI that takes a tier-1 service with the most users down, in a weighted calendar."""
    health = ServiceHealth(catalog.graph)
    best: tuple[int, str, str] | None = None
    for ci_id in catalog.graph.ci_ids:
        if ci_id in exclude:
            continue
        changed = health.set_ci_state(ci_id, State.DOWN)
        health.set_ci_state(ci_id, State.OK)
        for service_id in changed:
            service = catalog.services.get(service_id)
            if service is None or service.tier != 1 or service.calendar != "uk-finance":
                continue
            if health_state(catalog, ci_id, service_id) is State.DOWN and (
                best is None or service.users > best[0]
            ):
                best = (service.users, ci_id, service_id)
    assert best is not None, "the generated catalog has no tier-1 uk-finance service"
    return best[1], best[2]


def health_state(catalog: Catalog, ci_id: str, service_id: str) -> State:
    health = ServiceHealth(catalog.graph)
    health.set_ci_state(ci_id, State.DOWN)
    return health.state_of(service_id)


def build_storm(cis: list[str], total: int, at: datetime, rng: random.Random) -> Storm:
    """First every CI's alert fires (a change each); then repeats, with a share of changes."""
    storm = Storm(batches=[[] for _ in range(SENDERS)])
    owner = {ci: n % SENDERS for n, ci in enumerate(cis)}
    down = dict.fromkeys(cis, False)
    seq = itertools.count()
    pending: list[list[dict[str, Any]]] = [[] for _ in range(SENDERS)]

    def add(ci: str, state: str) -> None:
        sender = owner[ci]
        pending[sender].append(
            {
                "id": f"storm-{next(seq)}",
                "ci_id": ci,
                "state": state,
                "time": at.isoformat(),
                "source": "bench-storm",
                "summary": f"{ci} {state}",
            }
        )
        if len(pending[sender]) == BATCH:
            storm.batches[sender].append(pending[sender])
            pending[sender] = []

    for ci in cis:
        down[ci] = True
        add(ci, "down")
        storm.changes += 1
    while storm.changes + storm.repeats < total:
        ci = rng.choice(cis)
        if rng.random() < CHANGE_SHARE:
            down[ci] = not down[ci]
            storm.changes += 1
        else:
            storm.repeats += 1
        add(ci, "down" if down[ci] else "ok")
    for sender, rest in enumerate(pending):
        if rest:
            storm.batches[sender].append(rest)
    return storm


async def correlate_lag(settings: Settings) -> int:
    """Telemetry records correlate has not committed yet (read from the broker)."""
    bootstrap = settings.require_kafka()
    name = topic_name(topics.TELEMETRY, settings.topic_prefix)
    parts = [TopicPartition(name, p) for p in await partition_ids(bootstrap, name)]
    admin = new_admin(bootstrap, "bench-storm")
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(
            f"{settings.topic_prefix}impactline-correlate"
        )
        ends = await consumer.end_offsets(parts)
    finally:
        await consumer.stop()
        await admin.close()
    return sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in parts)


async def run(ctx: BenchContext) -> Section:
    section = Section("storm", "Storm: 100,000 events in about a minute, a P1 in the middle")
    rng = random.Random(11)
    catalog_dir, catalog = catalog_for(ctx, SERVICES, CIS)
    cis = storm_cis(catalog, STORM_CIS, rng)
    p1_ci, p1_service = p1_target(catalog, set(cis))
    total = int(ctx.scaled(100_000, 20_000))
    now = month_end_now(datetime.now(UTC))
    offset = (now - datetime.now(UTC)).total_seconds()
    settings = bench_settings(
        ctx, "storm", catalog_dir, IMPACTLINE_CLOCK_OFFSET_SECONDS=str(offset)
    )
    storm = build_storm(cis, total, now, rng)
    clock = settings.clock()
    peak_rss: dict[str, float] = {}
    async with running_system(settings, ctx.workdir / "logs-storm") as system:
        watch = ImpactWatch(await open_tail(settings.require_kafka(), _impact_topic(settings)))
        watch.start()
        poster = Poster(system.ingest_url, system.api_key, SENDERS)
        sent = Sent()
        p1: dict[str, float] = {}
        try:
            sampler = asyncio.create_task(_sample_rss(system, peak_rss))
            started = time.perf_counter()
            halfway = asyncio.Event()
            senders = [
                asyncio.create_task(_send(poster, batches, sent, halfway, total, clock))
                for batches in storm.batches
            ]
            await halfway.wait()
            p1_id = f"p1-{int(time.time() * 1000)}"
            body = orjson.dumps(
                [{"id": p1_id, "ci_id": p1_ci, "state": "down", "time": clock.now().isoformat(),
                  "summary": f"{p1_ci} down: the P1 of the storm"}]
            )  # fmt: skip
            p1["posted"] = time.perf_counter()
            await poster.post("/v1/events", body, sent)
            await asyncio.gather(*senders)
            posted = time.perf_counter()
            drained = await _drained(settings, deadline_s=ctx.scaled(600, 240))
            missing_p1 = await watch.wait_for([p1_id], timeout_s=60)
            p1_latency = (
                watch.first[p1_id] - p1["posted"]
                if not missing_p1 and p1_id in watch.first
                else None
            )
            sampler.cancel()
        finally:
            await poster.close()
            await watch.close()
    storm_s = drained - started
    rate = (storm.changes + storm.repeats) / storm_s if storm_s > 0 else 0.0
    section.add(
        Figure(
            "storm_drain_per_s",
            "storm drained (telemetry read and committed by correlate)",
            rate,
            "ev/s",
            f"{total:,} events posted in {posted - started:.0f} s by {SENDERS} senders",
            f"≥ {GOAL_DRAIN_PER_S:,.0f} ev/s",
            rate >= GOAL_DRAIN_PER_S,
        ),
        Figure(
            "storm_drain_after_s",
            "from the last event posted until correlate had read everything",
            drained - posted,
            "s",
            "",
        ),
        Figure(
            "storm_p1_s",
            f"mid-storm P1 ({p1_ci} down, {p1_service}): ingest request -> impact.all",
            p1_latency,
            "s",
            "posted when half the storm was out",
            f"< {GOAL_P1_S:.0f} s",
            None if p1_latency is None else p1_latency < GOAL_P1_S,
        ),
    )
    section.notes += [
        f"{STORM_CIS:,} CIs: each alert fires once ({len(cis):,} changes), then "
        f"{storm.repeats:,} repeats of the current state and {storm.changes - len(cis):,} further "
        f"changes; batches of {BATCH}; catalog of {SERVICES:,} services and {CIS:,} CIs.",
        "Peak resident memory, MiB: "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peak_rss.items())),
        f"Requests retried by the senders: {dict(sent.errors) or 'none'}.",
    ]
    section.details = {
        "events": total,
        "changes": storm.changes,
        "repeats": storm.repeats,
        "posted_s": posted - started,
        "drained_s": storm_s,
        "p1_latency_s": p1_latency,
        "peak_rss_mib": peak_rss,
        "errors": dict(sent.errors),
    }
    return section


def _impact_topic(settings: Settings) -> str:
    return topic_name(topics.IMPACT, settings.topic_prefix)


async def _send(
    poster: Poster,
    batches: list[list[dict[str, Any]]],
    sent: Sent,
    halfway: asyncio.Event,
    total: int,
    clock: Clock,
) -> None:
    for batch in batches:
        stamp = clock.now().isoformat()  # the system's (month-end) clock, as a source's would
        for item in batch:
            item["time"] = stamp
        await poster.post("/v1/events", orjson.dumps(batch), sent)
        sent.accepted_at.append((time.perf_counter(), len(batch)))
        if sum(n for _, n in sent.accepted_at) >= total / 2:
            halfway.set()
    halfway.set()


async def _drained(settings: Settings, deadline_s: float) -> float:
    """The moment correlate's lag on telemetry reached zero."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if await correlate_lag(settings) == 0:
            return time.perf_counter()
        await asyncio.sleep(0.25)
    raise TimeoutError(f"correlate did not drain the storm within {deadline_s:.0f} s")


async def _sample_rss(system: RunningSystem, peak: dict[str, float]) -> None:
    pids = system_pids(system)
    while True:
        for name, pid in pids.items():
            value = rss_mib(pid)
            if value is not None:
                peak[name] = max(peak.get(name, 0.0), value)
        await asyncio.sleep(0.5)
