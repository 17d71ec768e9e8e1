"""One measured run: post a workload, inject a fault while it runs, account for every event."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from impactline.core import cloudevents, topics
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import new_consumer, topic_name
from impactline.runtime.system import RunningSystem
from tests.faults.accounting import (
    Figures,
    Observed,
    account,
    missing_examples,
    observe,
    wait_until_settled,
)
from tests.faults.conftest import Measurements
from tests.faults.load import LoadReport, LoadRun
from tests.faults.workload import Workload, build_workload
from tests.helpers import wait_for

Inject = Callable[[LoadRun], Awaitable[None]]


@dataclass
class Outcome:
    figures: Figures
    load: LoadReport
    seen: Observed
    workload: Workload


def workload_for(group: str, cis: int, events: int, **options: Any) -> Workload:
    # Event times hours in the past: the workload spans hours of event time in a few minutes.
    return build_workload(group, cis, events, start=SYSTEM.now() - timedelta(hours=8), **options)


async def measured_run(
    system: RunningSystem,
    workload: Workload,
    fault: str,
    inject: Inject,
    *,
    settle_s: float,
    measurements: Measurements,
    **load_options: Any,
) -> Outcome:
    started = time.monotonic()
    run = LoadRun(system.ingest_url, system.api_key, workload, **load_options).start()
    await inject(run)
    load = await run.finish()
    seen = await wait_until_settled(
        system.settings.require_database(),
        workload,
        timeout_s=settle_s,
        alive=system.supervisor.check,
    )
    figures = account(fault, workload, load, seen, time.monotonic() - started)
    measurements.record(figures)
    return Outcome(figures, load, seen, workload)


async def trail(system: RunningSystem, cause_ids: set[str]) -> dict[str, list[str]]:
    """Where the events caused by `cause_ids` got to: the topics holding one, per cause."""
    settings = system.settings
    found: dict[str, list[str]] = {cause: [] for cause in cause_ids}
    for topic in (topics.CI_STATE, topics.SERVICE_HEALTH, topics.IMPACT):
        name = topic_name(topic, settings.topic_prefix)
        consumer = new_consumer(
            name,
            bootstrap_servers=settings.require_kafka(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while batches := await consumer.getmany(timeout_ms=2000, max_records=5000):
                for records in batches.values():
                    for msg in records:
                        event = cloudevents.decode(topic, msg.value, msg.headers).event
                        cause = getattr(event, "cause_event_id", None)
                        if cause in found:
                            found[cause].append(f"{topic.name}@{msg.partition}:{msg.offset}")
        finally:
            await consumer.stop()
    return found


async def assert_exactly_once(outcome: Outcome, system: RunningSystem | None = None) -> None:
    """Every accepted event reflected exactly once; repeats of the current state not at all."""
    figures, examples = outcome.figures, missing_examples(outcome.workload, outcome.seen)
    if system is not None and (figures.lost or figures.duplicated):
        causes = {example.split(" ", 1)[0] for example in examples}
        examples.append(f"trail: {await trail(system, causes)}")
    assert figures.accepted == figures.sent, "a client retrying with the same ids gets through"
    assert figures.lost == 0, f"{figures.lost} accepted state changes lost, e.g. {examples}"
    assert figures.duplicated == 0, f"{figures.duplicated} doubled, e.g. {examples}"
    assert figures.unexpected == 0, f"{figures.unexpected} effects of events that have none"
    assert figures.missing_incidents == 0, "a failing CI has no incident"
    assert figures.duplicated_incidents == 0, "a failing CI is in more than one incident"


async def processed(system: RunningSystem, workload: Workload, share: float, stage: str) -> None:
    """Wait until `share` of the state changes reached the timeline (`correlate`) or the ledger
    (`impact`): a fault injected then hits the stage mid-processing."""
    wanted = int(len(workload.changes) * share)

    async def far_enough() -> bool:
        seen = await observe(system.settings.require_database(), workload)
        done = seen.ledger.total() if stage == "impact" else seen.members.total()
        return done >= wanted

    await wait_for(far_enough, timeout=900, interval=0.25, message=f"{stage} at {share:.0%}")
