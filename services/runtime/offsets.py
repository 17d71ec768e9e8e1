"""Every input record through a handler once, in order, whatever Faust's fetcher does.

faust-streaming 0.15.3 can, around a rebalance, drop records it prefetched (or that arrived
while tables were restored) and still acknowledge them, so their offsets get committed and the
records are never seen again. `ProcessedOffsets` keeps, per input partition, the next offset
a handler has to see since the partition was assigned. Commits are held to it, and when a
record arrives past it, or the partition stalls behind its end, the missing records are read
straight from the broker and handled first (`GapFiller`), so order and completeness do not
depend on the fetcher.

`ProcessedOffsets` is pure bookkeeping; `CommitGuard` hooks it into one Faust app's consumer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

import faust
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faust.types import TP

from impactline.runtime.kafka import new_consumer

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Hashable)


class Admission(Enum):
    PROCESS = "process"
    SEEN = "seen"  # delivered again: its effects are done
    GAP = "gap"  # records before it never reached a handler: fill them in first


@dataclass
class _Partition:
    generation: int
    expected: int | None  # next offset to process; None until known
    durable: int | None  # next offset whose effects are not known durable: the commit limit
    progressed_at: float = field(default_factory=time.monotonic)


@dataclass
class ProcessedOffsets(Generic[P]):
    """Per partition, the offset up to which every record went through a handler."""

    _partitions: dict[P, _Partition] = field(default_factory=dict)

    def admit(self, partition: P, offset: int, generation: int, committed: int | None) -> Admission:
        """What to do with the record at `offset`. `committed` is the group's committed offset
        as the consumer saw it when the partition was (re)assigned in `generation`."""
        state = self.assigned(partition, generation, committed)
        if state.expected is None:  # nothing committed yet: the first record starts the count
            state.expected = offset
        if offset == state.expected:
            return Admission.PROCESS
        return Admission.SEEN if offset < state.expected else Admission.GAP

    def assigned(self, partition: P, generation: int, committed: int | None) -> _Partition:
        state = self._partitions.get(partition)
        if state is None or state.generation != generation:
            # A new assignment starts again from the committed offset (Faust seeks there).
            state = _Partition(generation, committed, committed)
            self._partitions[partition] = state
        return state

    def processed(self, partition: P, offset: int) -> None:
        state = self._partitions.get(partition)
        if state is not None and state.expected == offset:
            state.expected = offset + 1
            state.progressed_at = time.monotonic()

    def settled(self, partition: P, offset: int) -> None:
        """The effects of the record at `offset` (and those before it) are durable."""
        state = self._partitions.get(partition)
        if state is not None and (state.durable is None or offset >= state.durable):
            state.durable = offset + 1

    def expected(self, partition: P) -> int | None:
        state = self._partitions.get(partition)
        return None if state is None else state.expected

    def stalled(self, ends: Mapping[P, int], idle_s: float, now: float) -> dict[P, int]:
        """Partitions whose handlers have not reached the end for `idle_s`: where to start."""
        out: dict[P, int] = {}
        for partition, end in ends.items():
            state = self._partitions.get(partition)
            if state is None or state.expected is None or state.expected >= end:
                continue
            if now - state.progressed_at >= idle_s:
                out[partition] = state.expected
        return out

    def committable(self, offsets: Mapping[P, int]) -> tuple[dict[P, int], set[P]]:
        """Split a commit Faust asks for into what may be committed, each offset held to the
        records whose effects are durable, and the partitions whose request ran past the
        records handled (Faust acknowledged records no handler saw)."""
        allowed: dict[P, int] = {}
        skipped: set[P] = set()
        for partition, offset in offsets.items():
            state = self._partitions.get(partition)
            if state is None or state.expected is None or offset > state.expected:
                skipped.add(partition)
            if state is not None and state.durable is not None:
                allowed[partition] = min(offset, state.durable)
        return allowed, skipped


class CommitGuard:
    """Holds a Faust app's input commits to what `StreamIO.consume` handlers processed, and
    reads records Faust skipped straight from the broker.

    Reaches into faust-streaming's consumer (`_commit`, `_committed_offset`), which is why that
    dependency is pinned; the scale-out and kill tests fail if this stops working.
    """

    def __init__(self, app: faust.App, bootstrap: str) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.offsets: ProcessedOffsets[TP] = ProcessedOffsets()
        self.topics: set[str] = set()
        self._installed = False
        self._reader: AIOKafkaConsumer | None = None

    def guard(self, topic: str) -> None:
        """Hold commits of `topic` (a stream input) from now on."""
        self.topics.add(topic)
        if not self._installed:
            consumer = self.app.consumer
            consumer._commit = self._held(consumer._commit)
            self._installed = True

    def _committed(self, tp: TP) -> int | None:
        consumer: Any = self.app.consumer
        value = consumer._committed_offset.get(tp)
        return value if isinstance(value, int) else None

    def admit(self, tp: TP, offset: int, generation: int) -> Admission:
        return self.offsets.admit(tp, offset, generation, self._committed(tp))

    def processed(self, tp: TP, offset: int) -> None:
        self.offsets.processed(tp, offset)

    def settled(self, tp: TP, offset: int) -> None:
        self.offsets.settled(tp, offset)

    async def missing(self, tp: TP, start: int, stop: int | None) -> AsyncIterator[ConsumerRecord]:
        """Records `start`..`stop` (exclusive; None: up to the end) of `tp`, read directly."""
        reader = await self._open_reader()
        partition = TopicPartition(tp.topic, tp.partition)
        if stop is None:
            stop = (await reader.end_offsets([partition]))[partition]
        log.warning(
            "%s[%s]: records %s..%s never reached a handler; reading them from the broker",
            tp.topic,
            tp.partition,
            start,
            stop - 1,
        )
        reader.assign([partition])
        reader.seek(partition, start)
        position = start
        while position < stop:
            batches = await reader.getmany(partition, timeout_ms=1000, max_records=500)
            for record in batches.get(partition, []):
                if record.offset >= stop:
                    return
                position = record.offset + 1
                yield record
            if not batches and await reader.position(partition) >= stop:
                return  # the rest were transaction markers or compacted away

    async def stalled(self, idle_s: float) -> dict[TP, int]:
        """Assigned input partitions with records no handler saw for `idle_s` seconds."""
        consumer: Any = self.app.consumer
        if self.app.rebalancing or not consumer.flow_active:
            return {}
        generation = self.app.consumer_generation_id
        ours = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        for tp in ours:  # partitions that got no record at all since the assignment count too
            self.offsets.assigned(tp, generation, self._committed(tp))
        if not ours:
            return {}
        reader = await self._open_reader()
        ends = await reader.end_offsets([TopicPartition(tp.topic, tp.partition) for tp in ours])
        by_tp = {tp: ends[TopicPartition(tp.topic, tp.partition)] for tp in ours}
        return self.offsets.stalled(by_tp, idle_s, time.monotonic())

    async def _open_reader(self) -> AIOKafkaConsumer:
        if self._reader is None:
            self._reader = new_consumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None
            )
            await self._reader.start()
        return self._reader

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.stop()
            self._reader = None

    def _held(
        self, commit: Callable[[Mapping[TP, int]], Awaitable[bool]]
    ) -> Callable[[Mapping[TP, int]], Awaitable[bool]]:
        async def held_commit(offsets: Mapping[TP, int]) -> bool:
            ours = {tp: offset for tp, offset in offsets.items() if tp.topic in self.topics}
            others = {tp: offset for tp, offset in offsets.items() if tp not in ours}
            allowed, skipped = self.offsets.committable(ours)
            if skipped:
                log.info(
                    "commit held back to the processed offset of %s",
                    ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in skipped)),
                )
            if not (allowed or others):
                return True
            return await commit({**others, **allowed})

        return held_commit
