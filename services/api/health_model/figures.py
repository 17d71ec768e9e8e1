"""The figures a service owner reads, computed from projected history. Pure: no I/O.

Availability is time-weighted over the service-health history: each stretch of time in one state
counts as unavailable in proportion to the state's impact factor (the same factors the impact
rate uses: by default `down` 1, `degraded` 0.5, `ok` 0), and time in `unknown` is left out, since
nothing was known. The stretches become availability samples (milliseconds good out of
milliseconds observed) for the scoring module's error budget and burn rate.

Business impact minutes come from impact events: within one impact episode the accrued minutes
only grow, so each event adds the difference to the one before it, accrued at the calendar weight
in force since that earlier event (a weight change emits an event of its own).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from impactline.core.scoring import (
    AvailabilitySample,
    ErrorBudget,
    ServiceProfile,
    XlaScore,
    XlaSignals,
    XlaWeights,
    burn_rate,
    error_budget,
    xla_score,
)
from impactline.core.states import State


@dataclass(frozen=True, slots=True)
class HealthChange:
    at: datetime
    state: State
    previous: State = State.OK
    incident_id: str | None = None


@dataclass(frozen=True, slots=True)
class Stretch:
    """Time spent in one state; `incident_id` is the incident the change into it belonged to."""

    start: datetime
    end: datetime
    state: State
    incident_id: str | None


@dataclass(frozen=True, slots=True)
class ImpactPoint:
    at: datetime
    episode_id: str
    minutes: float
    weight: float | None
    period: str | None


@dataclass(frozen=True, slots=True)
class Increment:
    """Business impact minutes accrued up to `at`, at `weight` in calendar period `period`."""

    at: datetime
    minutes: float
    weight: float
    period: str | None

    @property
    def weighted(self) -> bool:
        return self.weight != 1.0


@dataclass(frozen=True, slots=True)
class FeedbackPoint:
    at: datetime
    csat: int | None
    sentiment: float | None


@dataclass(frozen=True, slots=True)
class ImpactTotals:
    minutes: float
    weighted_minutes: float
    by_period: Mapping[str, float]

    @property
    def weighted_share(self) -> float | None:
        return self.weighted_minutes / self.minutes if self.minutes > 0 else None


@dataclass(frozen=True, slots=True)
class Spread:
    count: int
    median_s: float | None
    p90_s: float | None


# -- availability ------------------------------------------------------------------------------


def stretches(
    initial: State, changes: Sequence[HealthChange], start: datetime, end: datetime
) -> list[Stretch]:
    """The states over [start, end): `initial` at `start`, then each change in time order."""
    out: list[Stretch] = []
    state, incident, since = initial, None, start
    for change in sorted(changes, key=lambda c: c.at):
        if change.at <= start:
            state, incident = change.state, change.incident_id
            continue
        if change.at >= end:
            break
        if change.at > since:
            out.append(Stretch(since, change.at, state, incident))
        state, incident, since = change.state, change.incident_id, change.at
    if end > since:
        out.append(Stretch(since, end, state, incident))
    return out


def _ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def samples(
    spans: Iterable[Stretch], factors: Mapping[State, float], start: datetime, end: datetime
) -> list[AvailabilitySample]:
    """One sample per stretch clipped to [start, end], stamped at its end; `unknown` left out."""
    out = []
    for span in spans:
        lo, hi = max(span.start, start), min(span.end, end)
        if hi <= lo or span.state is State.UNKNOWN:
            continue
        total = _ms(hi - lo)
        bad = round(total * min(max(factors.get(span.state, 0.0), 0.0), 1.0))
        out.append(AvailabilitySample(at=hi, good=total - bad, total=total))
    return out


def budget(
    spans: Sequence[Stretch],
    factors: Mapping[State, float],
    slo: float,
    start: datetime,
    end: datetime,
) -> ErrorBudget:
    # Samples are counted when start < at <= end, which every clipped stretch end satisfies.
    return error_budget(samples(spans, factors, start, end), slo, start, end)


def budget_by_incident(
    spans: Sequence[Stretch], factors: Mapping[State, float], start: datetime, end: datetime
) -> dict[str | None, float]:
    """Unavailable milliseconds per incident (None: not part of any incident)."""
    bad: dict[str | None, float] = {}
    for span in spans:
        lo, hi = max(span.start, start), min(span.end, end)
        factor = factors.get(span.state, 0.0)
        if hi <= lo or span.state is State.UNKNOWN or factor <= 0:
            continue
        bad[span.incident_id] = bad.get(span.incident_id, 0.0) + _ms(hi - lo) * min(factor, 1.0)
    return bad


def hourly_burn_rate(
    spans: Sequence[Stretch], factors: Mapping[State, float], slo: float, now: datetime
) -> float | None:
    window = timedelta(hours=1)
    return burn_rate(samples(spans, factors, now - window, now), slo, now, window)


# -- business impact minutes -------------------------------------------------------------------


def increments(points: Iterable[ImpactPoint]) -> list[Increment]:
    """What each impact event added, in time order."""
    by_episode: dict[str, list[ImpactPoint]] = {}
    for point in points:
        by_episode.setdefault(point.episode_id, []).append(point)
    out = []
    for episode in by_episode.values():
        episode.sort(key=lambda p: (p.at, p.minutes))
        before: ImpactPoint | None = None
        for point in episode:
            done = before.minutes if before is not None else 0.0
            source = before or point
            added = point.minutes - done
            if added > 0:
                weight = source.weight if source.weight is not None else 1.0
                out.append(Increment(point.at, added, weight, source.period))
            before = point if before is None or point.minutes >= before.minutes else before
    out.sort(key=lambda i: i.at)
    return out


class ImpactLedger:
    """Increments sorted once, so many windows can be summed by binary search."""

    def __init__(self, items: Iterable[Increment]) -> None:
        self.items = sorted(items, key=lambda i: i.at)
        self.times = [i.at for i in self.items]

    def between(self, start: datetime, end: datetime) -> list[Increment]:
        """Increments with start < at <= end."""
        return self.items[bisect_right(self.times, start) : bisect_right(self.times, end)]

    def totals(self, start: datetime, end: datetime) -> ImpactTotals:
        return totals(self.between(start, end))


def totals(items: Iterable[Increment]) -> ImpactTotals:
    minutes = weighted = 0.0
    by_period: dict[str, float] = {}
    for item in items:
        minutes += item.minutes
        if item.weighted:
            weighted += item.minutes
        name = item.period or "unweighted"
        by_period[name] = by_period.get(name, 0.0) + item.minutes
    return ImpactTotals(minutes, weighted, by_period)


def buckets(
    ledger: ImpactLedger, start: datetime, end: datetime, count: int
) -> list[tuple[datetime, datetime, ImpactTotals]]:
    """`count` equal slices of (start, end] with what accrued in each."""
    step = (end - start) / count
    edges = [start + step * n for n in range(count)] + [end]
    return [(lo, hi, ledger.totals(lo, hi)) for lo, hi in pairwise(edges)]


# -- feedback and XLA --------------------------------------------------------------------------


class FeedbackLog:
    def __init__(self, points: Iterable[FeedbackPoint]) -> None:
        self.points = sorted(points, key=lambda p: p.at)
        self.times = [p.at for p in self.points]

    def between(self, start: datetime, end: datetime) -> list[FeedbackPoint]:
        return self.points[bisect_right(self.times, start) : bisect_right(self.times, end)]


def xla_at(
    profile: ServiceProfile,
    weights: XlaWeights,
    spans: Sequence[Stretch],
    factors: Mapping[State, float],
    ledger: ImpactLedger,
    feedback: FeedbackLog,
    start: datetime,
    end: datetime,
) -> tuple[XlaScore, ErrorBudget, XlaSignals]:
    """The XLA score and error budget over (start, end]."""
    spent = budget(spans, factors, profile.slo_target, start, end)
    said = feedback.between(start, end)
    ratings = [p.csat for p in said if p.csat is not None]
    moods = [p.sentiment for p in said if p.sentiment is not None]
    signals = XlaSignals(
        availability=spent.availability,
        impact_minutes=ledger.totals(start, end).minutes,
        csat=sum(ratings) / len(ratings) if ratings else None,
        sentiment=sum(moods) / len(moods) if moods else None,
    )
    return xla_score(profile, signals, weights, (start, end)), spent, signals


# -- value stream ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(durations: Iterable[timedelta]) -> Spread:
    seconds = [max(d.total_seconds(), 0.0) for d in durations]
    return Spread(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


def initial_state(changes: Sequence[HealthChange]) -> State:
    """The state before the first known change: what it changed from; `ok` without changes."""
    first = min(changes, key=lambda c: c.at, default=None)
    return first.previous if first is not None else State.OK
