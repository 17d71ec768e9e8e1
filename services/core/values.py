"""Rules for single values every contract shares: ids and text a database can store, timestamps
written as RFC 3339, and the window of event times ingest accepts.

PostgreSQL refuses U+0000 in `text` and `jsonb`, and a record it refuses stops whatever tries
to store it; control characters in an id also break logs, headers and the dashboard. So ids
refuse every control character and free text the ones that are not layout (tab, line feed,
carriage return). Pure: the window's `now` is given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# C0 and C1 controls, DEL, and UTF-16 surrogates (not characters; PostgreSQL refuses them).
_NOT_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_NOT_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
ID_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
TEXT_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"

# RFC 3339 date-time: a full date, a time with seconds, an optional fraction, a zone offset
# (a missing offset passes here so that the time zone check can say what is missing).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$", re.ASCII
)
# What query parameters accept besides: minutes without seconds, and no offset (read as UTC).
_ISO_QUERY = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$", re.ASCII
)


def _first(pattern: re.Pattern[str], value: str) -> str | None:
    found = pattern.search(value)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()}"


def printable_id(value: str) -> str:
    """An id without control characters (AfterValidator of every id type)."""
    where = _first(_NOT_IN_ID, value)
    if where is not None:
        raise ValueError(f"must not contain control characters; found {where}")
    return value


def clean_text(value: str) -> str:
    """Free text without control characters other than tab, line feed and carriage return."""
    where = _first(_NOT_IN_TEXT, value)
    if where is not None:
        raise ValueError(
            f"must not contain control characters other than tab and line breaks; found {where}"
        )
    return value


def clean_labels(value: dict[str, str]) -> dict[str, str]:
    """Labels: keys are ids, values free text."""
    for key, item in value.items():
        printable_id(key)
        clean_text(item)
    return value


def rfc3339(value: Any) -> Any:
    """BeforeValidator of contract timestamps: an RFC 3339 string (or a datetime built in code);
    numbers, booleans and other spellings that a lenient parser would read are refused."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"expected an RFC 3339 timestamp string such as 2026-11-30T10:00:00Z, got "
            f"{type(value).__name__}"
        )
    if not _RFC3339.match(value):
        raise ValueError(
            f"not an RFC 3339 timestamp: {value[:60]!r}; write e.g. 2026-11-30T10:00:00Z"
        )
    return value


def iso_query_time(value: Any) -> Any:
    """BeforeValidator of time query parameters: ISO 8601 date and time only (no epoch numbers)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_QUERY.match(value):
        raise ValueError(
            f"expected a date and time such as 2026-11-30T10:00:00Z, got {str(value)[:60]!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class EventTimeWindow:
    """Event times ingest accepts: from `max_age` before `now` to `max_ahead` after it."""

    now: datetime
    max_age: timedelta
    max_ahead: timedelta

    def check(self, value: datetime) -> datetime:
        earliest, latest = self.now - self.max_age, self.now + self.max_ahead
        if value < earliest:
            raise ValueError(
                f"{value.isoformat()} is more than {_span(self.max_age)} before the time of "
                f"receipt ({self.now.isoformat(timespec='seconds')}); the oldest accepted is "
                f"{earliest.isoformat(timespec='seconds')} (IMPACTLINE_EVENT_MAX_AGE)"
            )
        if value > latest:
            raise ValueError(
                f"{value.isoformat()} is more than {_span(self.max_ahead)} after the time of "
                f"receipt ({self.now.isoformat(timespec='seconds')}); the latest accepted is "
                f"{latest.isoformat(timespec='seconds')} (IMPACTLINE_EVENT_MAX_AHEAD)"
            )
        return value


def _span(span: timedelta) -> str:
    if span % timedelta(days=1) == timedelta(0):
        return f"{span.days} days"
    return f"{span.total_seconds() / 3600:g} hours"


# Set by ingest around the translation of one input; contracts built meanwhile check their
# event time against it. Unset (every stream worker, every replay of a topic): no check.
_WINDOW: ContextVar[EventTimeWindow | None] = ContextVar("event_time_window", default=None)


@contextmanager
def event_time_window(window: EventTimeWindow | None) -> Iterator[None]:
    token = _WINDOW.set(window)
    try:
        yield
    finally:
        _WINDOW.reset(token)


def within_window(value: datetime) -> datetime:
    """AfterValidator of the event time of input contracts (telemetry, changes, feedback)."""
    window = _WINDOW.get()
    return value if window is None else window.check(value)


_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def unstorable_text(document: Any) -> str | None:
    """The JSON pointer of the first key or string in `document` that PostgreSQL cannot store
    (U+0000, lone surrogates), or None. Iterative: documents may nest deeply."""
    pending: list[tuple[str, Any]] = [("", document)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return where or "/"
        elif isinstance(value, dict):
            for key, item in value.items():
                path = f"{where}/{str(key).replace('~', '~0').replace('/', '~1')}"
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    return path
                pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}/{n}", item) for n, item in enumerate(value))
    return None
