"""When each key of a worker's table next has something to do on a timer tick.

A tick visits only the keys that are due instead of decoding every key of its partition. The
index lives in memory: it is built for a partition on that partition's first tick here (start,
rebalance, catalog switch) and kept up to date by the handlers as they store new states.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from impactline.runtime.streams import partition_of


class DueIndex:
    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self._due: dict[str, datetime] = {}
        self._scanned: set[int] = set()

    def due(
        self,
        partition: int,
        now: datetime,
        keys: Callable[[], Iterable[str]],
        deadline_of: Callable[[str], datetime | None],
    ) -> list[str]:
        """Keys of `partition` due at `now`; learns the partition's deadlines the first time."""
        if partition not in self._scanned:
            for key in keys():
                self.note(key, deadline_of(key))
            self._scanned.add(partition)
        return [
            key
            for key, at in self._due.items()
            if at <= now and partition_of(key, self.partitions) == partition
        ]

    def note(self, key: str, at: datetime | None) -> None:
        """`key` next has work at `at`; None: nothing to do until an event arrives."""
        if at is None:
            self._due.pop(key, None)
        else:
            self._due[key] = at

    def clear(self) -> None:
        self._due.clear()
        self._scanned.clear()
