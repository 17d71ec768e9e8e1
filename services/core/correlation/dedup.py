"""Bounded memories of what a CI already reported, so repeats are recognised cheaply."""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from impactline.core.correlation.serial import StateFormatError, required_time


class RecentIds:
    """The most recent event ids of one CI, oldest first; older ids fall out past the limit."""

    __slots__ = ("_order", "_seen")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._order: deque[str] = deque(ids)
        self._seen = set(self._order)

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._seen

    def __len__(self) -> int:
        return len(self._order)

    def add(self, event_id: str, limit: int) -> None:
        if event_id in self._seen:
            return
        self._order.append(event_id)
        self._seen.add(event_id)
        while len(self._order) > limit:
            self._seen.discard(self._order.popleft())

    def to_list(self) -> list[str]:
        return list(self._order)


def fingerprint(state: str, summary: str, metric: str | None) -> str:
    """A short stable digest: summaries can be long and are stored per CI."""
    text = "\x1f".join((state, metric or "", summary))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


class FingerprintWindow:
    """When each recent fingerprint of one CI was first seen."""

    __slots__ = ("_first_seen",)

    def __init__(self, first_seen: dict[str, datetime] | None = None) -> None:
        self._first_seen: dict[str, datetime] = dict(first_seen or {})

    def __len__(self) -> int:
        return len(self._first_seen)

    def seen_within(self, key: str, at: datetime, window: timedelta) -> bool:
        first = self._first_seen.get(key)
        return first is not None and window > timedelta(0) and at - first < window

    def record(self, key: str, at: datetime, window: timedelta, limit: int) -> None:
        """Remember `key` as first seen at `at` and forget what has left the window."""
        self._first_seen.pop(key, None)
        self._first_seen[key] = at
        horizon = at - window
        for old in [k for k, first in self._first_seen.items() if first <= horizon and k != key]:
            del self._first_seen[old]
        while len(self._first_seen) > limit:
            del self._first_seen[next(iter(self._first_seen))]

    def to_dict(self) -> dict[str, str]:
        return {key: first.isoformat() for key, first in self._first_seen.items()}

    @classmethod
    def from_dict(cls, data: Any) -> FingerprintWindow:
        if not isinstance(data, dict):
            raise StateFormatError("fingerprints must be a mapping of fingerprint to timestamp")
        return cls({k: required_time(v, f"fingerprints.{k}") for k, v in data.items()})
