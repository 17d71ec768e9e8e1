"""What happened to one service over time, in bounded memory.

A service is in one state at a time. Service-health events report changes, so a service nobody
reported on is `ok`, and so is the time before its first report. The current state's interval
is kept exactly (its start); when the state changes, the interval that ended is spread over
time buckets: seconds of bad time (a second `down` counts 1, a second `degraded` counts the
policy's `degraded_badness`) and seconds of unknown time. Impact minutes and feedback are added
to the bucket of their time stamp.

Buckets are sparse (a bucket exists only where something happened) and two-tiered: fine buckets
(1 minute by default) for the last `fine_span`, coarse ones (1 hour) up to the policy's retention,
after which they are dropped. A window that starts inside a bucket counts that bucket in
proportion to the overlap, as if its contents were spread evenly over it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from impactline.core.experience.policy import ExperiencePolicy
from impactline.core.states import State

Values = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Bucket:
    """Contents of one time bucket (or the totals of a window)."""

    bad: float = 0.0  # seconds, full-outage equivalent
    unknown: float = 0.0  # seconds in `unknown`
    impact: float = 0.0  # business impact minutes
    csat_sum: float = 0.0
    csat_count: float = 0.0
    sentiment_sum: float = 0.0
    sentiment_count: float = 0.0

    @classmethod
    def of(cls, values: Values) -> Bucket:
        return cls(*values)

    def values(self) -> Values:
        return (
            self.bad,
            self.unknown,
            self.impact,
            self.csat_sum,
            self.csat_count,
            self.sentiment_sum,
            self.sentiment_count,
        )

    def __add__(self, other: Bucket) -> Bucket:
        return Bucket(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    @property
    def empty(self) -> bool:
        return not any(self.values())

    @property
    def has_feedback(self) -> bool:
        return self.csat_count > 0 or self.sentiment_count > 0


_WIDTH = len(fields(Bucket))
_ZERO: Values = (0.0,) * _WIDTH


@dataclass(frozen=True, slots=True)
class Timeline:
    state: State = State.OK
    since: datetime | None = None  # None: never reported, ok all along
    fine: Mapping[int, Bucket] = field(default_factory=dict)
    coarse: Mapping[int, Bucket] = field(default_factory=dict)

    def changed_to(
        self, state: State, at: datetime, now: datetime, policy: ExperiencePolicy
    ) -> Timeline:
        """The service is in `state` from `at` on. A change stamped before the current state
        began (late or reordered) takes effect when the current state began."""
        at = _utc(at)
        if self.since is None:
            return Timeline(state, at, self.fine, self.coarse)
        at = max(at, self.since)
        if state is self.state:
            return self
        fine, coarse = dict(self.fine), dict(self.coarse)
        rate = _rate(self.state, policy)
        if rate is not None:
            start = max(self.since, now - policy.retention)
            cutoff = now - policy.fine_span
            if start < min(at, cutoff):
                _spread(coarse, start, min(at, cutoff), policy.coarse_bucket, rate)
            if max(start, cutoff) < at:
                _spread(fine, max(start, cutoff), at, policy.fine_bucket, rate)
        return Timeline(state, at, fine, coarse)

    def plus(
        self, at: datetime, content: Bucket, now: datetime, policy: ExperiencePolicy
    ) -> Timeline:
        """Add `content` (impact minutes, a rating) to the bucket of instant `at`."""
        at = _utc(at)
        if at <= now - policy.retention:
            return self
        if at >= now - policy.fine_span:
            target, size, other = dict(self.fine), policy.fine_bucket, self.coarse
            fine_side = True
        else:
            target, size, other = dict(self.coarse), policy.coarse_bucket, self.fine
            fine_side = False
        key = _bucket_start(at, size)
        target[key] = target.get(key, Bucket()) + content
        if fine_side:
            return Timeline(self.state, self.since, target, other)
        return Timeline(self.state, self.since, other, target)

    def compacted(self, now: datetime, policy: ExperiencePolicy) -> Timeline:
        """Fine buckets older than `fine_span` merged into coarse ones; buckets past the
        retention dropped."""
        fine_end = _epoch(now - policy.fine_span)
        kept_end = _epoch(now - policy.retention)
        fine_size = int(policy.fine_bucket.total_seconds())
        coarse_size = int(policy.coarse_bucket.total_seconds())
        fine: dict[int, Bucket] = {}
        coarse = {k: v for k, v in self.coarse.items() if k + coarse_size > kept_end}
        for start, content in self.fine.items():
            if start + fine_size > fine_end:
                fine[start] = content
            elif start + fine_size > kept_end:
                key = start - start % coarse_size
                coarse[key] = coarse.get(key, Bucket()) + content
        if len(fine) == len(self.fine) and len(coarse) == len(self.coarse):
            return self
        return Timeline(self.state, self.since, fine, coarse)

    @property
    def quiet(self) -> bool:
        """Nothing kept: no bucket and the service ok."""
        return self.state is State.OK and not self.fine and not self.coarse

    def index(self, policy: ExperiencePolicy) -> TimelineIndex:
        return TimelineIndex(self, policy)

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "since": None if self.since is None else self.since.isoformat(),
            "fine": {str(k): _compact(v) for k, v in sorted(self.fine.items())},
            "coarse": {str(k): _compact(v) for k, v in sorted(self.coarse.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        since = data["since"]
        return cls(
            state=State(data["state"]),
            since=None if since is None else _utc(datetime.fromisoformat(since)),
            fine={int(k): _bucket(v) for k, v in data["fine"].items()},
            coarse={int(k): _bucket(v) for k, v in data["coarse"].items()},
        )


class TimelineIndex:
    """Buckets sorted once with running sums, so each window costs a binary search."""

    def __init__(self, timeline: Timeline, policy: ExperiencePolicy) -> None:
        self._timeline = timeline
        self._policy = policy
        fine = int(policy.fine_bucket.total_seconds())
        coarse = int(policy.coarse_bucket.total_seconds())
        entries = sorted(
            [(k, fine, v.values()) for k, v in timeline.fine.items()]
            + [(k, coarse, v.values()) for k, v in timeline.coarse.items()]
        )
        self._entries = entries
        self._starts = [entry[0] for entry in entries]
        self._widest = coarse
        running = [_ZERO]
        for _, _, values in entries:
            running.append(tuple(a + b for a, b in zip(running[-1], values, strict=True)))
        self._running = running

    def totals(self, start: datetime, end: datetime) -> Bucket:
        """Everything in (start, end]: whole buckets that begin inside, the part of a bucket
        the window starts in, and the current state's share of the window."""
        start_s, end_s = _epoch(start), _epoch(end)
        high = bisect_left(self._starts, end_s)
        low = min(bisect_left(self._starts, start_s), high)
        total = [b - a for a, b in zip(self._running[low], self._running[high], strict=True)]
        for k in range(bisect_right(self._starts, start_s - self._widest), low):
            bucket_start, size, values = self._entries[k]
            overlap = bucket_start + size - start_s
            if overlap > 0:
                share = overlap / size
                total = [t + v * share for t, v in zip(total, values, strict=True)]
        timeline = self._timeline
        rate = _rate(timeline.state, self._policy)
        if rate is not None and timeline.since is not None:
            seconds = (end - max(start, timeline.since)).total_seconds()
            if seconds > 0:
                total = [t + r * seconds for t, r in zip(total, rate, strict=True)]
        return Bucket.of(tuple(total))


def _rate(state: State, policy: ExperiencePolicy) -> Values | None:
    """What one second in `state` adds to a bucket; None for ok, which adds nothing."""
    if state is State.DOWN:
        return Bucket(bad=1.0).values()
    if state is State.DEGRADED:
        return Bucket(bad=policy.degraded_badness).values()
    if state is State.UNKNOWN:
        return Bucket(unknown=1.0).values()
    return None


def _spread(
    target: dict[int, Bucket], start: datetime, end: datetime, size: timedelta, rate: Values
) -> None:
    step = int(size.total_seconds())
    start_s, end_s = _epoch(start), _epoch(end)
    bucket = int(start_s // step) * step
    while bucket < end_s:
        seconds = min(end_s, bucket + step) - max(start_s, bucket)
        if seconds > 0:
            piece = Bucket.of(tuple(r * seconds for r in rate))
            target[bucket] = target.get(bucket, Bucket()) + piece
        bucket += step


def _bucket_start(at: datetime, size: timedelta) -> int:
    step = int(size.total_seconds())
    return int(_epoch(at) // step) * step


def _epoch(at: datetime) -> float:
    return at.timestamp()


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a time zone aware instant, got {at!r}")
    return at.astimezone(UTC)


def _compact(bucket: Bucket) -> list[float]:
    values = [round(v, 6) for v in bucket.values()]
    while values and values[-1] == 0:
        values.pop()
    return values


def _bucket(values: Any) -> Bucket:
    numbers = [float(v) for v in values]
    if len(numbers) > _WIDTH:
        raise ValueError(f"a bucket holds at most {_WIDTH} figures, got {len(numbers)}")
    return Bucket.of(tuple(numbers + [0.0] * (_WIDTH - len(numbers))))
