"""Reading and replaying the dead-letter topic.

Replay re-validates each letter's original payload the way its input did (the HTTP format it was
posted in, the `raw` topic, or the topic another process read it from) and publishes what is now
valid to where it would have gone: telemetry from HTTP or `raw` goes to `telemetry`, a change to
`changes`, a message another worker gave up on back to its original topic. Telemetry and changes
are bound to catalog CIs first, with the catalog version last published, exactly as ingest binds
them; what no binding finds goes to the `unbound` topic.

Each source has its own consumer group, `<prefix>impactline-dlq-replay.<source>`: after a replay
its committed offsets mark every letter of that source up to then as handled, so no letter is
replayed twice, whatever `--source` filters were used. A letter that is still invalid is written
to the dead-letter topic again with the new reason, where a later replay (after a fix) finds it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from impactline.core import cloudevents, topics
from impactline.core.binding import Binder
from impactline.core.contracts import Contract, DeadLetter, new_id
from impactline.ingest.adapters import AdapterError, IngestEvent, destination
from impactline.ingest.adapters import cloudevents_http as ce
from impactline.ingest.binding import bind_events
from impactline.ingest.deadletters import source_name
from impactline.ingest.formats import REPLAYABLE
from impactline.ingest.intake import Intake
from impactline.ingest.raw import RawMessageInvalid, translate_message
from impactline.ingest.sink import KafkaSink
from impactline.runtime.catalog_publisher import catalog_from_event, read_latest_catalog
from impactline.runtime.clock import SYSTEM
from impactline.runtime.kafka import (
    new_admin,
    new_consumer,
    new_producer,
    partition_ids,
    topic_name,
)
from impactline.runtime.problems import Problem

RAW_SOURCE = source_name("raw")
Progress = Callable[[str], None]


class ReplayInvalid(ValueError):
    """The letter's payload is still not valid input; the text says why."""


@dataclass(frozen=True, slots=True)
class StoredLetter:
    letter: DeadLetter
    partition: int
    offset: int
    replayed: bool


@dataclass
class ReplayReport:
    replayed: int = 0
    events: int = 0
    still_invalid: int = 0
    already_replayed: int = 0
    unreadable: int = 0
    reasons: list[str] = field(default_factory=list)  # why letters are still invalid


def replay_group(prefix: str, source: str) -> str:
    return f"{prefix}impactline-dlq-replay.{source}"


def revalidate(
    letter: DeadLetter, prefix: str = "", binder: Binder | None = None
) -> list[tuple[topics.Topic, str, Contract]]:
    """(topic, key, event) for everything the letter's payload yields now, or ReplayInvalid.
    Telemetry and changes from an input are bound with `binder`, as ingest would."""
    try:
        return _revalidate(letter, prefix, binder)
    except (AdapterError, RawMessageInvalid, cloudevents.DecodeError) as exc:
        raise ReplayInvalid(str(exc)) from None
    except Problem as problem:
        raise ReplayInvalid(problem.detail) from None


def _revalidate(
    letter: DeadLetter, prefix: str, binder: Binder | None
) -> list[tuple[topics.Topic, str, Contract]]:
    payload = letter.payload.encode("utf-8")
    if letter.source == RAW_SOURCE:
        headers = [(k, v.encode()) for k, v in letter.original_headers.items()]
        event = translate_message(payload, headers, received_at=letter.time)
        return _routed(binder, "raw", [event], letter)
    fmt_name = letter.source.removeprefix("ingest/")
    if letter.source.startswith("ingest/") and fmt_name in REPLAYABLE:
        media = letter.original_headers.get("content-type", "application/json")
        if fmt_name == "cloudevents":
            media = ce.STRUCTURED  # a rejected batch item is one structured event
        intake = Intake(
            payload,
            {"content-type": media},
            media,
            letter.time,
            # Ids the sender left out derive from the letter: a repeated replay repeats them.
            id_seed=f"replay\x1f{letter.id}",
        )
        translation = REPLAYABLE[fmt_name].translate(intake)
        if translation.rejected:
            raise ReplayInvalid("; ".join(str(err) for _, err in translation.rejected))
        return _routed(binder, fmt_name, translation.accepted, letter)
    topic = _registry_topic(letter.original_topic, prefix)
    if topic is None:
        raise ReplayInvalid(
            f"cannot replay letters of source {letter.source!r}: no input format and no known "
            f"original topic ({letter.original_topic!r})"
        )
    headers = [(k, v.encode()) for k, v in letter.original_headers.items()]
    event = cloudevents.decode(topic, payload, headers).event
    if isinstance(event, IngestEvent):
        return [(*destination(event), event)]  # keyed as ingest keys it
    return [(topic, str(getattr(event, topic.key)), event)]


def _routed(
    binder: Binder | None, input_name: str, events: list[Any], letter: DeadLetter
) -> list[tuple[topics.Topic, str, Contract]]:
    bound = bind_events(binder, input_name, events, now=letter.time).events
    return [(*destination(e), e) for e in bound]


def _registry_topic(name: str | None, prefix: str) -> topics.Topic | None:
    if not name or not name.startswith(prefix):
        return None
    bare = name.removeprefix(prefix)
    return next((t for t in topics.REGISTRY if t.name == bare), None)


async def read_letters(
    bootstrap: str, prefix: str = "", *, source: str | None = None
) -> tuple[list[StoredLetter], int]:
    """Every letter on the topic now (of `source`, if given), and how many were unreadable."""
    name = topic_name(topics.DEAD_LETTERS, prefix)
    try:
        parts = [TopicPartition(name, p) for p in await partition_ids(bootstrap, name, 5.0)]
    except TimeoutError:
        return [], 0  # the topic does not exist yet: nothing was ever dead-lettered
    consumer = new_consumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    handled: dict[str, dict[int, int]] = {}
    letters: list[StoredLetter] = []
    unreadable = 0
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        while await _behind(consumer, ends):
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for msg in records:
                    if msg.offset >= ends[tp]:
                        continue
                    try:
                        letter = cloudevents.decode(topics.DEAD_LETTERS, msg.value, msg.headers)
                    except cloudevents.DecodeError:
                        unreadable += 1
                        continue
                    assert isinstance(letter.event, DeadLetter)
                    dl = letter.event
                    if source is not None and dl.source != source:
                        continue
                    if dl.source not in handled:
                        handled[dl.source] = await _committed(bootstrap, prefix, dl.source, name)
                    done = msg.offset < handled[dl.source].get(tp.partition, 0)
                    letters.append(StoredLetter(dl, tp.partition, msg.offset, done))
    finally:
        await consumer.stop()
    letters.sort(key=lambda s: (s.letter.time, s.partition, s.offset))
    return letters, unreadable


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _committed(bootstrap: str, prefix: str, source: str, name: str) -> dict[int, int]:
    admin = new_admin(bootstrap, "impactline-dlq")
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(replay_group(prefix, source))
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == name}


async def replay(
    bootstrap: str,
    prefix: str = "",
    *,
    source: str | None = None,
    dry_run: bool = False,
    progress: Progress = lambda _: None,
) -> ReplayReport:
    """Re-validate and re-publish every letter not replayed yet (of `source`, if given)."""
    letters, unreadable = await read_letters(bootstrap, prefix, source=source)
    report = ReplayReport(unreadable=unreadable)
    published = await read_latest_catalog(bootstrap, prefix)
    binder = None
    if published is not None:
        catalog = await asyncio.to_thread(catalog_from_event, published)
        binder = Binder(catalog, published.version)
    pending = [s for s in letters if not s.replayed]
    report.already_replayed = len(letters) - len(pending)
    progress(f"{len(pending)} letter(s) to replay, {report.already_replayed} replayed before")
    batches: dict[topics.Topic, list[tuple[str, Contract]]] = defaultdict(list)
    for stored in pending:
        try:
            produced = revalidate(stored.letter, prefix, binder)
        except ReplayInvalid as exc:
            report.still_invalid += 1
            report.reasons.append(f"{stored.letter.source}: {exc}")
            batches[topics.DEAD_LETTERS].append((stored.letter.source, _again(stored.letter, exc)))
            continue
        report.replayed += 1
        report.events += len(produced)
        for topic, key, event in produced:
            batches[topic].append((key, event))
    if dry_run or not pending:
        return report
    await _publish(bootstrap, prefix, batches)
    await _mark_replayed(bootstrap, prefix, pending, letters)
    progress(f"published {report.events} event(s) from {report.replayed} letter(s)")
    return report


def _again(letter: DeadLetter, exc: Exception) -> DeadLetter:
    return letter.model_copy(
        update={"id": new_id(), "reason": f"replay: {exc}", "time": SYSTEM.now()}
    )


async def _publish(
    bootstrap: str, prefix: str, batches: dict[topics.Topic, list[tuple[str, Contract]]]
) -> None:
    producer = new_producer(bootstrap, "impactline-dlq-replay")
    await producer.start()
    try:
        sink = KafkaSink(producer, prefix, timeout_s=60)
        await asyncio.gather(*(sink.put(t, events) for t, events in batches.items() if events))
    finally:
        await producer.stop()


async def _mark_replayed(
    bootstrap: str, prefix: str, pending: Sequence[StoredLetter], letters: Sequence[StoredLetter]
) -> None:
    """Commit, per source replayed, past the last letter of it that was read."""
    name = topic_name(topics.DEAD_LETTERS, prefix)
    upto: dict[str, dict[int, int]] = defaultdict(dict)
    for stored in letters:
        marks = upto[stored.letter.source]
        marks[stored.partition] = max(marks.get(stored.partition, 0), stored.offset + 1)
    for src in {s.letter.source for s in pending}:
        consumer = new_consumer(
            bootstrap_servers=bootstrap,
            group_id=replay_group(prefix, src),
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            offsets: dict[Any, int] = {TopicPartition(name, p): o for p, o in upto[src].items()}
            consumer.assign(list(offsets))
            await consumer.commit(offsets)
        finally:
            await consumer.stop()
