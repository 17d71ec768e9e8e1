"""Event time: how far each input partition has got, and so which timers may fire.

Every timer of the system (damping holds, staleness, resolve holds, accruals, XLA windows,
calendar boundaries) fires on the *watermark* of the partition that owns its state, never on
the wall clock directly. The rule, documented in docs/correlation.md ("Time"):

- A partition's event clock is the newest event time read from it.
- While records keep coming (or the consumer is behind the partition's end) the clock moves
  only with them, however fast or slow they are read: a replay of last week runs on last
  week's time, at whatever speed the broker delivers it.
- Once the consumer has read everything and nothing new arrived for `idle_after`, the clock
  moves on with the wall clock from where the events left it. A quiet live system still fires
  its timers; a replay that has ended continues from its own last instant, not from today.
- The watermark is the event clock minus `allowed_lateness`: an event up to that much older
  than the newest one read still meets every timer of its key unfired.

Pure: callers pass the wall clock reading in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from impactline.core.contracts import Contract
from impactline.core.processing import Output
from impactline.core.topics import Topic

DEFAULT_ALLOWED_LATENESS = timedelta(seconds=5)
DEFAULT_IDLE_AFTER = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class TimePolicy:
    allowed_lateness: timedelta = DEFAULT_ALLOWED_LATENESS
    idle_after: timedelta = DEFAULT_IDLE_AFTER

    def __post_init__(self) -> None:
        if self.allowed_lateness < timedelta(0) or self.idle_after < timedelta(0):
            raise ValueError("allowed_lateness and idle_after must not be negative")


@dataclass(slots=True)
class EventClock:
    """The event clock of one input partition."""

    policy: TimePolicy = TimePolicy()
    newest: datetime | None = None
    """The newest event time read from the partition."""
    last_read: datetime | None = None
    """Wall time at which the last record was read."""
    floor: datetime | None = None
    """Highest watermark handed out: the watermark never goes back."""

    def observe(self, event_time: datetime, wall: datetime) -> None:
        """A record with `event_time` was read at `wall`."""
        if self.newest is None or event_time > self.newest:
            self.newest = event_time
        self.last_read = wall

    def now(self, wall: datetime, caught_up: bool) -> datetime | None:
        """The partition's event clock at `wall`; None before its first event.

        `caught_up`: the consumer has read up to the partition's end. Only then may the wall
        clock move event time on, after `idle_after` of silence.
        """
        if self.newest is None:
            return None
        if not caught_up or self.last_read is None:
            return self.newest
        quiet = wall - self.last_read - self.policy.idle_after
        return self.newest + max(quiet, timedelta(0))

    def watermark(self, wall: datetime, caught_up: bool) -> datetime | None:
        """Timers due at or before this instant may fire; None before the first event."""
        clock = self.now(wall, caught_up)
        if clock is None:
            return self.floor
        mark = clock - self.policy.allowed_lateness
        if self.floor is None or mark > self.floor:
            self.floor = mark
        return self.floor

    def restore(self, watermark: datetime | None, newest: datetime | None, wall: datetime) -> None:
        """Continue from the clock stored with the partition's state (after a restart or a
        rebalance) as if its last record had just been read: timers that fired before do not
        fire again, and the time the partition was not served is not skipped over (a replay
        interrupted by a crash resumes on its own time)."""
        if watermark is not None and (self.floor is None or watermark > self.floor):
            self.floor = watermark
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest
        self.last_read = wall


class TimedTask(Protocol):
    """What `Timed` drives: a pure processor with timers (see `impactline.core.processing`)."""

    def handle(self, topic: Topic, event: Contract) -> list[Output]: ...
    def advance(self, watermark: datetime) -> list[Output]: ...
    def next_due(self) -> datetime | None: ...


@dataclass(slots=True)
class Timed:
    """A processor and the event clock of its partition, applying the time rules.

    - An event at `t` means the partition has reached `t`: timers due up to `t` less the
      allowed lateness fire before the event is handled.
    - `tick` fires the timers due up to the watermark (which may move with the wall clock
      when the partition is idle).

    Every timer fires at or before the first event more than `allowed_lateness` after it and
    after every event within `allowed_lateness` before it, whether the events come live, as a
    fast replay or with any number of ticks in between; so the outputs are the same.
    """

    task: TimedTask
    clock: EventClock

    def arrive(self, event_time: datetime, wall: datetime) -> list[Output]:
        """An event of `event_time` was read at `wall`: the outputs of the timers that fire
        before it. Handle the event itself (`task.handle`) next."""
        self.clock.observe(event_time, wall)
        return self._fire(self.clock.watermark(wall, caught_up=False))

    def tick(self, wall: datetime, caught_up: bool) -> list[Output]:
        return self._fire(self.clock.watermark(wall, caught_up))

    def _fire(self, mark: datetime | None) -> list[Output]:
        due = self.task.next_due()
        if mark is None or due is None or due > mark:
            return []
        return self.task.advance(mark)
