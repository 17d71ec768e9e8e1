"""Durations as people write them in YAML: `90s`, `5m`, `2h`, `1h30m`, `1d`, seconds or ISO 8601."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_NUMBER = r"(\d+(?:\.\d+)?)"
_COMPOUND = re.compile(rf"^(?:{_NUMBER}d)?(?:{_NUMBER}h)?(?:{_NUMBER}m)?(?:{_NUMBER}s)?$")
_ISO = re.compile(rf"^P(?:{_NUMBER}D)?(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?$")
_HINT = "expected seconds (e.g. 90) or a duration like 90s, 5m, 2h, 1h30m, 1d or PT5M"


def parse_duration(value: Any) -> timedelta:
    """Read a non-negative duration; raise `ValueError` naming the accepted spellings."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {_HINT}")
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip())
    else:
        raise ValueError(f"{value!r} is not a duration; {_HINT}")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; durations must be 0 or more")
    return timedelta(seconds=seconds)


def _parse_text(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    for pattern in (_COMPOUND, _ISO):
        match = pattern.match(text.lower() if pattern is _COMPOUND else text.upper())
        if match and text and any(match.groups()):
            days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
            return days * 86400 + hours * 3600 + minutes * 60 + seconds
    raise ValueError(f"{text!r} is not a duration; {_HINT}")


def format_duration(value: timedelta) -> str:
    """The shortest compound spelling (`1h30m`, `45s`, `0s`) that `parse_duration` reads back."""
    remaining = value.total_seconds()
    if remaining == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in _UNITS.items():
        if unit == "s":
            if remaining:
                amount = round(remaining, 6)
                parts.append(f"{int(amount) if amount == int(amount) else amount}s")
            break
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type for durations in configuration files."""
