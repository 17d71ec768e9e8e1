"""What a stream processor hands back to the shell that runs it.

A processor (correlation, impact) is pure: it takes decoded input events and watermarks and
returns the events to publish. The shell (`impactline.runtime.stream`) reads batches from the
broker, calls the processor, and writes the outputs, the changed state and the input offsets in
one transaction.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime

from impactline.core.contracts import Contract
from impactline.core.topics import Topic


@dataclass(frozen=True, slots=True)
class Output:
    """One event to publish on `topic` under `key`."""

    topic: Topic
    key: str
    event: Contract


class Unprocessable(ValueError):
    """This input can never be processed as it is (an unknown CI, say); the shell sends it to
    the dead-letter topic with this message as the reason and goes on."""


class DueIndex:
    """When each key next has a timer due, so advancing the watermark visits only due keys.

    A heap of (deadline, key) with stale entries skipped: `set` is O(log n), `due` pops only
    what is due.
    """

    def __init__(self) -> None:
        self._at: dict[str, datetime] = {}
        self._heap: list[tuple[datetime, str]] = []

    def set(self, key: str, at: datetime | None) -> None:
        """`key` next has something to do at `at`; None: nothing until an input arrives."""
        if at is None:
            self._at.pop(key, None)
            return
        if self._at.get(key) == at:
            return
        self._at[key] = at
        heapq.heappush(self._heap, (at, key))

    def due(self, until: datetime) -> list[str]:
        """Keys due at or before `until`, earliest first, each once; they leave the index
        until `set` again."""
        keys: list[str] = []
        while self._heap and self._heap[0][0] <= until:
            at, key = heapq.heappop(self._heap)
            if self._at.get(key) == at:
                del self._at[key]
                keys.append(key)
        if len(self._heap) > 4 * len(self._at) + 64:
            self._heap = [(at, key) for key, at in self._at.items()]
            heapq.heapify(self._heap)
        return keys

    def next(self) -> datetime | None:
        """The earliest deadline held."""
        while self._heap and self._at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __len__(self) -> int:
        return len(self._at)
