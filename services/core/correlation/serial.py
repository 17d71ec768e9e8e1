"""Helpers for the plain, JSON-compatible dicts that correlation state is stored as."""

from __future__ import annotations

from datetime import datetime
from typing import Any

STATE_FORMAT = 1
"""Bumped when a stored state layout changes incompatibly; older layouts are refused by name."""


class StateFormatError(ValueError):
    """A stored correlation state cannot be read back."""


def time_out(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def time_in(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise StateFormatError(f"{field}: {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise StateFormatError(f"{field}: {value!r} has no time zone offset")
    return parsed


def required_time(value: Any, field: str) -> datetime:
    parsed = time_in(value, field)
    if parsed is None:
        raise StateFormatError(f"{field}: a timestamp is required")
    return parsed


def check_format(data: Any, kind: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise StateFormatError(f"{kind} state must be a mapping, got {type(data).__name__}")
    version = data.get("v")
    if version != STATE_FORMAT:
        raise StateFormatError(
            f"{kind} state has format {version!r}; this version reads format {STATE_FORMAT}. "
            "Rebuild the state by replaying the input topic."
        )
    return data
