"""The one wall clock of a process.

Results never depend on the wall clock (see docs/correlation.md, "Time"): it only decides how
fast event time moves while no events arrive, and what an operator's command is stamped with
when nothing else says. Every process reads it through a `Clock`, so a test, a demo or an
operator can run the whole system as if it were another day (`IMPACTLINE_CLOCK_OFFSET_SECONDS`,
which `SYSTEM` and `Settings.clock()` both follow), and this module is the only place allowed to
read the machine's clock (a ruff rule holds the rest of the code to that).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, time zone aware (UTC)."""
        ...


class SystemClock:
    """The machine's clock, optionally shifted by a fixed offset."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def __repr__(self) -> str:
        return f"SystemClock(offset={self.offset})"


class ManualClock:
    """A clock that moves only when told to: tests set it to any day."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a time zone aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at.astimezone(UTC)

    def advance(self, by: timedelta) -> None:
        self._now += by


def _offset_from_environment() -> timedelta:
    """IMPACTLINE_CLOCK_OFFSET_SECONDS, read once: code that has no Settings at hand reads the
    same shifted clock as code that has (Settings.clock), so a whole process, tests included,
    can be run as if the machine's clock said another day."""
    raw = os.environ.get("IMPACTLINE_CLOCK_OFFSET_SECONDS", "").strip()
    try:
        return timedelta(seconds=float(raw)) if raw else timedelta(0)
    except ValueError:
        return timedelta(0)  # Settings refuses the value with a clear error at start


SYSTEM = SystemClock(_offset_from_environment())
