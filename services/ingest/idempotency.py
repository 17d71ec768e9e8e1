"""Idempotency: a retried request gets the first answer again instead of producing twice.

Two mechanisms work together:

- the `Idempotency-Key` request header: the answer to a request is remembered for a while under
  (API key, Idempotency-Key); the same key with the same request replays that answer without
  producing anything, the same key with a different request is refused, and a request arriving
  while the first one with its key is still being handled is told to retry (409);
- event ids: an event whose id was produced moments ago is not produced again (ids derived from
  their input, as every adapter makes them, turn an exact resend into the same id), and every
  downstream sink upserts by event id anyway.

Both live in the ingest process's memory: with several ingest replicas a retry that lands on
another replica is produced again, and the event-id idempotency downstream drops the duplicate.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

MAX_KEY_LENGTH = 255


class IdempotencyMismatch(Exception):
    """The key was used before for a different request."""


class IdempotencyInFlight(Exception):
    """The first request with this key is still being handled."""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes
    media_type: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    expires: float
    answer: StoredAnswer | None = None  # None while the first request is being handled


def fingerprint(method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    """What makes two requests the same: route, media type, CloudEvents headers and body."""
    digest = hashlib.sha256()
    relevant = sorted(
        (k.lower(), v)
        for k, v in headers.items()
        if k.lower() == "content-type" or k.lower().startswith("ce-")
    )
    for part in (method, path, repr(relevant)):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def valid_key(value: str) -> bool:
    return 0 < len(value) <= MAX_KEY_LENGTH and value.isprintable()


class IdempotencyStore:
    """Answers by (principal, Idempotency-Key) for `ttl_s`: at most `max_keys` of them and
    `max_bytes` of answer bodies, the oldest going first. An answer larger than a tenth of
    `max_bytes` is not remembered: a retry of that request is handled again (its events keep
    their ids, so it produces no duplicate)."""

    def __init__(
        self,
        ttl_s: float,
        max_keys: int,
        *,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_keys = max_keys
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.stored_bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def begin(self, scope: tuple[str, str], print_: str) -> StoredAnswer | None:
        """The stored answer to replay, or None after marking the request as in flight."""
        now = self._clock()
        entry = self._entries.get(scope)
        if entry is not None and entry.expires > now:
            if entry.fingerprint != print_:
                raise IdempotencyMismatch
            if entry.answer is None:
                raise IdempotencyInFlight
            return entry.answer
        self._drop(scope)
        self._entries[scope] = _Entry(print_, now + self._ttl_s)
        self._evict(now)
        return None

    def finish(self, scope: tuple[str, str], answer: StoredAnswer) -> None:
        """Remember the answer; one the client should retry (5xx, 429) is forgotten instead."""
        entry = self._entries.get(scope)
        if entry is None:
            return
        if answer.status >= 500 or answer.status == 429 or _size(answer) > self._max_bytes // 10:
            self._drop(scope)
            return
        self.stored_bytes += _size(answer) - (_size(entry.answer) if entry.answer else 0)
        entry.answer = answer
        entry.expires = self._clock() + self._ttl_s
        self._evict(self._clock())

    def abandon(self, scope: tuple[str, str]) -> None:
        self._drop(scope)

    def _drop(self, scope: tuple[str, str]) -> None:
        entry = self._entries.pop(scope, None)
        if entry is not None and entry.answer is not None:
            self.stored_bytes -= _size(entry.answer)

    def _evict(self, now: float) -> None:
        while self._entries:
            oldest_scope, oldest = next(iter(self._entries.items()))
            if (
                len(self._entries) <= self._max_keys
                and self.stored_bytes <= self._max_bytes
                and oldest.expires > now
            ):
                return
            self._drop(oldest_scope)


def _size(answer: StoredAnswer) -> int:
    return len(answer.body) + sum(len(k) + len(v) for k, v in answer.headers) + 64


class RecentIds:
    """Event ids produced within the last `ttl_s` seconds (at most `capacity` of them)."""

    def __init__(
        self, capacity: int, ttl_s: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._capacity = capacity
        self._ttl_s = ttl_s
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def seen(self, topic: str, event_id: str) -> bool:
        expires = self._seen.get((topic, event_id))
        return expires is not None and expires > self._clock()

    def remember(self, entries: Iterable[tuple[str, str]]) -> None:
        if self._capacity <= 0:
            return
        expires = self._clock() + self._ttl_s
        for entry in entries:
            self._seen.pop(entry, None)
            self._seen[entry] = expires
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)
