"""Reading and replaying the `unbound` topic: events that wait for a binding.

A replay reads the topic to its end, keeps the latest record of every event id (a `bound`
record written by an earlier replay hides the `waiting` one), binds the waiting events again with
the catalog version the system runs with (the last one published on the catalog topic) and
publishes what is bound now to its topic with its own id, followed by a `bound` record on the
unbound topic. The id is what makes a second replay, or a source that sent the event again
after the catalog changed, double nothing: every sink downstream upserts by event id.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import TopicPartition

from impactline.core import cloudevents, topics
from impactline.core.binding import Binder
from impactline.core.contracts import Contract, UnboundEvent, UnboundStatus
from impactline.ingest.adapters import destination
from impactline.ingest.binding import rebind
from impactline.ingest.sink import KafkaSink
from impactline.runtime.catalog_publisher import catalog_from_event, read_latest_catalog
from impactline.runtime.kafka import new_consumer, new_producer, partition_ids, topic_name

Progress = Callable[[str], None]
_PROGRESS_EVERY = 10_000


class NoCatalog(RuntimeError):
    """No catalog version was published, so there is nothing to bind with."""


@dataclass
class UnboundLog:
    """The latest record per event id, in the order first seen, and what could not be read."""

    latest: dict[str, UnboundEvent] = field(default_factory=dict)
    unreadable: int = 0

    def waiting(self, input_name: str | None = None, key: str | None = None) -> list[UnboundEvent]:
        return [
            e
            for e in self.latest.values()
            if e.status is UnboundStatus.WAITING
            and (input_name is None or e.input == input_name)
            and (key is None or e.key == key)
        ]


@dataclass
class UnboundReplay:
    catalog_version: int = 0
    bound: int = 0
    still_waiting: int = 0
    bound_before: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, str] = field(default_factory=dict)  # key -> why it is still unbound


async def read_unbound(bootstrap: str, prefix: str = "", progress: Progress = print) -> UnboundLog:
    """Every record on the unbound topic now, folded to the latest per event id."""
    name = topic_name(topics.UNBOUND, prefix)
    log = UnboundLog()
    try:
        parts = [TopicPartition(name, p) for p in await partition_ids(bootstrap, name, 5.0)]
    except TimeoutError:
        return log  # no topic yet: nothing was ever kept
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    read = 0
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                for msg in records:
                    if msg.offset >= ends[tp]:
                        continue
                    read += 1
                    if read % _PROGRESS_EVERY == 0:
                        progress(f"read {read} records of {name}")
                    try:
                        event = cloudevents.decode(topics.UNBOUND, msg.value, msg.headers).event
                    except cloudevents.DecodeError:
                        log.unreadable += 1
                        continue
                    assert isinstance(event, UnboundEvent)
                    log.latest[event.id] = event
    finally:
        await consumer.stop()
    return log


def rebind_all(
    binder: Binder, waiting: list[UnboundEvent], now: datetime
) -> tuple[dict[topics.Topic, list[tuple[str, Contract]]], UnboundReplay]:
    """What to publish for the waiting events that `binder` binds: each event on its topic and
    a `bound` record on the unbound topic. Pure."""
    report = UnboundReplay(catalog_version=binder.version)
    batches: dict[topics.Topic, list[tuple[str, Contract]]] = defaultdict(list)
    for kept in waiting:
        result = rebind(binder, kept)
        if not isinstance(result, Contract):
            report.still_waiting += 1
            report.reasons.setdefault(kept.key, getattr(result, "reason", ""))
            continue
        topic, key = destination(result)
        batches[topic].append((key, result))
        assert result.binding is not None
        mark = kept.model_copy(
            update={
                "status": UnboundStatus.BOUND,
                "ci_id": result.ci_id,
                "rule": result.binding.rule,
                "catalog_version": binder.version,
                "time": now,
            }
        )
        batches[topics.UNBOUND].append((kept.key, mark))
        report.bound += 1
        report.by_rule[result.binding.rule] += 1
    return batches, report


async def replay_unbound(
    bootstrap: str,
    prefix: str = "",
    *,
    now: datetime,
    input_name: str | None = None,
    key: str | None = None,
    dry_run: bool = False,
    progress: Progress = print,
) -> UnboundReplay:
    """Bind the waiting events again with the published catalog and publish what binds."""
    published = await read_latest_catalog(bootstrap, prefix)
    if published is None:
        raise NoCatalog("no catalog version was published yet: load one first")
    catalog = await asyncio.to_thread(catalog_from_event, published)
    binder = Binder(catalog, published.version)
    log = await read_unbound(bootstrap, prefix, progress)
    waiting = log.waiting(input_name, key)
    progress(
        f"{len(waiting)} event(s) waiting for a binding; binding with catalog version "
        f"{published.version}"
    )
    batches, report = await asyncio.to_thread(rebind_all, binder, waiting, now)
    report.bound_before = sum(1 for e in log.latest.values() if e.status is UnboundStatus.BOUND)
    if dry_run or not report.bound:
        return report
    producer = new_producer(bootstrap, "impactline-unbound-replay")
    await producer.start()
    try:
        sink = KafkaSink(producer, prefix, timeout_s=60)
        # Events first: a crash before the marks only means the next replay sends the same
        # ids again, which every sink drops.
        await asyncio.gather(
            *(sink.put(t, items) for t, items in batches.items() if t is not topics.UNBOUND)
        )
        await sink.put(topics.UNBOUND, batches[topics.UNBOUND])
    finally:
        await producer.stop()
    progress(f"published {report.bound} event(s)")
    return report
