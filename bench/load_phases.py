"""The measured phases of a running system: sustained rate, latency at a fixed rate, profile."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.processes import CpuMeter, system_pids
from bench.profiling import Profiler
from bench.workload import (
    ImpactWatch,
    Poster,
    Sent,
    Target,
    TelemetryFeed,
    paced,
    percentile,
    rate_in,
    saturate,
    split,
)
from impactline.core import topics
from impactline.runtime.kafka import open_tail, topic_name
from impactline.runtime.system import RunningSystem

SENDERS = 8
MAX_BATCH = 200
# Events allowed on their way to impact: enough that latency does not cap the rate measured
# (a backlog of one second of output would, once the latency itself passes a second).
MIN_BACKLOG = 500
QUEUED_S = 5.0


@dataclass
class Sustained:
    input_per_s: float  # telemetry events whose impact arrived, per second
    impacts_per_s: float  # impact events on impact.all per second
    ingest_per_s: float  # events ingest acknowledged per second
    window_s: float
    sent: int
    lost: int
    cpu_cores: dict[str, float] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class Latency:
    offered_per_s: float
    achieved_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    matched: int
    missing: int


class Pipeline:
    """Drives one running system through its ingest route and watches `impact.all`."""

    def __init__(self, system: RunningSystem, targets: list[Target], run: str) -> None:
        self.system = system
        self.feeds = [
            TelemetryFeed(cis, f"{run}{i}") for i, cis in enumerate(split(targets, SENDERS))
        ]
        self.poster = Poster(system.ingest_url, system.api_key, SENDERS)
        self.watch: ImpactWatch | None = None
        self.batch = 20
        self.calibrated_per_s = 0.0

    async def __aenter__(self) -> Pipeline:
        settings = self.system.settings
        name = topic_name(topics.IMPACT, settings.topic_prefix)
        self.watch = ImpactWatch(await open_tail(settings.require_kafka(), name))
        self.watch.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.poster.close()
        if self.watch is not None:
            await self.watch.close()

    def _watch(self) -> ImpactWatch:
        assert self.watch is not None, "use Pipeline in `async with`"
        return self.watch

    async def warm_up(self, timeout_s: float = 120.0) -> float:
        """One event per sender until each reaches impact (every worker is assigned and
        running), then a burst that sizes the batches. Returns the seconds that took."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        while await self._burst(1, 10.0):
            self.system.supervisor.check()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"no impact event within {timeout_s:.0f}s of the first events; "
                    "see the service logs"
                )
        burst_started = time.perf_counter()
        await self._burst(25, 60.0)
        self.calibrated_per_s = 25 * len(self.feeds) / (time.perf_counter() - burst_started)
        # All senders' batches together hold about a tenth of a second of output.
        self.batch = max(20, min(MAX_BATCH, int(self.calibrated_per_s / 10 / len(self.feeds))))
        return time.perf_counter() - started

    async def _burst(self, size: int, timeout_s: float) -> int:
        """`size` events from each sender at once; returns how many did not arrive in time."""
        sent = Sent()

        async def one(feed: TelemetryFeed) -> None:
            body, ids = feed.batch(size)
            sent.at.update(dict.fromkeys(ids, time.perf_counter()))
            await self.poster.post("/v1/events", body, sent)

        await asyncio.gather(*(one(f) for f in self.feeds))
        return await self._watch().wait_for(list(sent.at), timeout_s)

    async def sustained(self, duration_s: float, warm_s: float) -> Sustained:
        """Closed-loop load; rates over the window after `warm_s`."""
        watch = self._watch()
        meter = CpuMeter(system_pids(self.system))
        meter_task = asyncio.create_task(self._meter_after(meter, warm_s))
        sent = await saturate(
            self.poster,
            self.feeds,
            watch,
            duration_s=duration_s,
            batch=self.batch,
            min_backlog=max(self.batch * len(self.feeds) * 2, MIN_BACKLOG),
            queued_s=QUEUED_S,
        )
        cores = meter.stop() if meter_task.done() else {}
        meter_task.cancel()
        start, end = sent.started + warm_s, sent.ended
        arrivals = [watch.first[i] for i in sent.at if i in watch.first]
        result = Sustained(
            input_per_s=rate_in(arrivals, start, end),
            impacts_per_s=rate_in(watch.impact_times, start, end),
            ingest_per_s=sum(n for t, n in sent.accepted_at if start <= t <= end) / (end - start),
            window_s=end - start,
            sent=len(sent.at),
            lost=0,
            cpu_cores=cores,
            errors=dict(sent.errors),
        )
        result.lost = await watch.wait_for(list(sent.at), 30.0)
        return result

    @staticmethod
    async def _meter_after(meter: CpuMeter, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        meter.start()

    async def latency(self, rate: float, duration_s: float) -> Latency:
        """Open-loop load at `rate`: ingest request start to the first impact of each event."""
        watch = self._watch()
        sent = await paced(self.poster, self.feeds, rate=rate, duration_s=duration_s)
        missing = await watch.wait_for(list(sent.at), 30.0)
        delays = sorted((watch.first[i] - t) * 1000 for i, t in sent.at.items() if i in watch.first)
        return Latency(
            offered_per_s=rate,
            achieved_per_s=len(sent.at) / max(1e-9, sent.ended - sent.started),
            p50_ms=percentile(delays, 0.50),
            p95_ms=percentile(delays, 0.95),
            p99_ms=percentile(delays, 0.99),
            max_ms=delays[-1] if delays else float("nan"),
            matched=len(delays),
            missing=missing,
        )

    async def profile(self, duration_s: float, out_dir: Path) -> dict[str, Any]:
        """py-spy on ingest, correlate and impact while the closed loop runs."""
        pids = {
            name: pid
            for name, pid in system_pids(self.system).items()
            if name in ("ingest", "correlate", "impact")
        }
        profiler = Profiler(pids, out_dir, duration_s)
        profiler.start()
        sent = await saturate(
            self.poster,
            self.feeds,
            self._watch(),
            duration_s=duration_s + 1,
            batch=self.batch,
            min_backlog=max(self.batch * len(self.feeds) * 2, MIN_BACKLOG),
            queued_s=QUEUED_S,
        )
        profiles = await profiler.finish()
        await self._watch().wait_for(list(sent.at), 30.0)
        return profiles
