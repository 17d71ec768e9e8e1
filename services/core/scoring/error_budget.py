"""SLO error budgets and multi-window, multi-burn-rate alerting over availability samples.

A sample counts good and total requests (or probes) observed at an instant. The error ratio of a
window is bad / total over the samples inside it; the burn rate is that ratio divided by the
budget ratio (1 - SLO): a burn rate of 1 spends exactly the budget over the SLO period.

An alert rule fires when both its long and its short window burn at or above its factor; the
short window makes the alert stop soon after the burning stops.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from impactline.core.calendar.clock import require_aware


@dataclass(frozen=True, slots=True)
class AvailabilitySample:
    at: datetime
    good: int
    total: int

    def __post_init__(self) -> None:
        if self.total < 0 or not 0 <= self.good <= self.total:
            raise ValueError(
                f"expected 0 <= good <= total, got good={self.good} total={self.total}"
            )


class AlertSeverity(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class BurnRateRule:
    long_window: timedelta
    short_window: timedelta
    factor: float
    severity: AlertSeverity

    @property
    def name(self) -> str:
        return f"{_span(self.long_window)}/{_span(self.short_window)} x{self.factor:g}"


#: For a 30-day SLO period: 2 % of the budget in 1 h, 5 % in 6 h (page), 10 % in 3 days (ticket).
DEFAULT_BURN_RATE_RULES: tuple[BurnRateRule, ...] = (
    BurnRateRule(timedelta(hours=1), timedelta(minutes=5), 14.4, AlertSeverity.PAGE),
    BurnRateRule(timedelta(hours=6), timedelta(minutes=30), 6.0, AlertSeverity.PAGE),
    BurnRateRule(timedelta(days=3), timedelta(hours=6), 1.0, AlertSeverity.TICKET),
)


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    slo: float
    total: int
    bad: int

    @property
    def allowed_bad(self) -> float:
        return self.total * (1.0 - self.slo)

    @property
    def consumed(self) -> float:
        """Share of the budget spent; above 1.0 the SLO is missed. 0 when nothing was observed."""
        if self.total == 0:
            return 0.0
        return self.bad / self.allowed_bad

    @property
    def remaining(self) -> float:
        return 1.0 - self.consumed

    @property
    def availability(self) -> float | None:
        return (self.total - self.bad) / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class BurnRateAlert:
    rule: BurnRateRule
    long_burn_rate: float
    short_burn_rate: float

    @property
    def severity(self) -> AlertSeverity:
        return self.rule.severity


class SampleWindow:
    """Samples sorted once by time, so many windows can be summed without re-sorting."""

    def __init__(self, samples: Iterable[AvailabilitySample]) -> None:
        ordered = sorted(samples, key=lambda sample: require_aware(sample.at, "sample time"))
        self._times = [require_aware(sample.at) for sample in ordered]
        self._samples = ordered

    def counts(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(good, total) over samples with start < at <= end."""
        low = bisect_right(self._times, require_aware(start))
        high = bisect_right(self._times, require_aware(end))
        chosen = self._samples[low:high]
        return sum(sample.good for sample in chosen), sum(sample.total for sample in chosen)


def _validate_slo(slo: float) -> None:
    if not 0.0 < slo < 1.0:
        raise ValueError(f"an SLO is a ratio strictly between 0 and 1 (e.g. 0.999), got {slo}")


def error_budget(
    samples: Iterable[AvailabilitySample] | SampleWindow,
    slo: float,
    start: datetime,
    end: datetime,
) -> ErrorBudget:
    """The budget of the window (start, end]."""
    _validate_slo(slo)
    window = samples if isinstance(samples, SampleWindow) else SampleWindow(samples)
    good, total = window.counts(start, end)
    return ErrorBudget(slo=slo, total=total, bad=total - good)


def burn_rate(
    samples: Iterable[AvailabilitySample] | SampleWindow,
    slo: float,
    now: datetime,
    window: timedelta,
) -> float | None:
    """Error ratio over (now - window, now] divided by 1 - SLO; None without samples."""
    _validate_slo(slo)
    source = samples if isinstance(samples, SampleWindow) else SampleWindow(samples)
    good, total = source.counts(now - window, now)
    if total == 0:
        return None
    return ((total - good) / total) / (1.0 - slo)


def burn_rate_alerts(
    samples: Iterable[AvailabilitySample] | SampleWindow,
    slo: float,
    now: datetime,
    rules: Sequence[BurnRateRule] = DEFAULT_BURN_RATE_RULES,
) -> tuple[BurnRateAlert, ...]:
    """The rules firing at `now`, most severe (pages, then higher factors) first."""
    source = samples if isinstance(samples, SampleWindow) else SampleWindow(samples)
    firing = []
    for rule in rules:
        long_rate = burn_rate(source, slo, now, rule.long_window)
        short_rate = burn_rate(source, slo, now, rule.short_window)
        if long_rate is None or short_rate is None:
            continue
        if long_rate >= rule.factor and short_rate >= rule.factor:
            firing.append(BurnRateAlert(rule, long_rate, short_rate))
    order = {AlertSeverity.PAGE: 0, AlertSeverity.TICKET: 1}
    firing.sort(key=lambda alert: (order[alert.severity], -alert.rule.factor))
    return tuple(firing)


def fastest_burn_rate(
    samples: Iterable[AvailabilitySample] | SampleWindow,
    slo: float,
    now: datetime,
    rules: Sequence[BurnRateRule] = DEFAULT_BURN_RATE_RULES,
) -> float | None:
    """The highest burn rate sustained over any rule's pair of windows (the smaller of the two
    rates of a pair), the figure the priority rules take as error-budget burn."""
    source = samples if isinstance(samples, SampleWindow) else SampleWindow(samples)
    rates = []
    for rule in rules:
        long_rate = burn_rate(source, slo, now, rule.long_window)
        short_rate = burn_rate(source, slo, now, rule.short_window)
        if long_rate is not None and short_rate is not None:
            rates.append(min(long_rate, short_rate))
    return max(rates) if rates else None


def _span(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
