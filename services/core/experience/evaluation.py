"""How a service's experience stands at one instant: XLA scores per window, the error budget of
the SLO period, burn rates and the burn-rate rules that fire.

Availability is time-based: over a window, `availability = 1 - bad time / counted time`, where
counted time is the window less the time in `unknown`. The impact budget of the catalog is per
SLO period (a month), so a window of length w gets `budget x w / SLO period`.

A burn-rate rule counts only once its long window holds at least the policy's `min_bad` of bad
time (two minutes of outage by default): the arithmetic alone would otherwise page for a blip
on a strict SLO. Below that there is no burn evidence, and the burn rate given to the priority
is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from impactline.core.experience.policy import ExperiencePolicy
from impactline.core.experience.state import ExperienceState
from impactline.core.experience.timeline import Bucket, TimelineIndex
from impactline.core.scoring import (
    BurnRateAlert,
    BurnRateRule,
    ErrorBudget,
    ServiceProfile,
    XlaScore,
    XlaSignals,
    xla_score,
)


@dataclass(frozen=True, slots=True)
class WindowScore:
    window: timedelta
    score: XlaScore
    signals: XlaSignals
    active: bool  # something happened in the window (bad time, impact, feedback)


@dataclass(frozen=True, slots=True)
class Evaluation:
    at: datetime
    scores: tuple[WindowScore, ...]
    budget: ErrorBudget
    burn_rates: dict[timedelta, float | None]
    alerts: tuple[BurnRateAlert, ...]
    fastest_burn_rate: float | None


def evaluate(
    state: ExperienceState,
    now: datetime,
    profile: ServiceProfile,
    policy: ExperiencePolicy,
    index: TimelineIndex | None = None,
) -> Evaluation:
    """Every figure of the service at `now` (service time). `index` is the state's timeline
    index when the caller keeps one (it depends only on the timeline)."""
    index = index or state.timeline.index(policy)
    scores = tuple(_window_score(index, now, window, profile, policy) for window in policy.windows)
    period = index.totals(now - policy.slo_period, now)
    counted = policy.slo_period.total_seconds() - period.unknown
    budget = ErrorBudget(
        slo=profile.slo_target,
        total=round(max(counted, 0.0) * 1000),
        bad=round(min(period.bad, max(counted, 0.0)) * 1000),
    )
    burn = _BurnRates(index, now, profile.slo_target, policy)
    return Evaluation(
        at=now,
        scores=scores,
        budget=budget,
        burn_rates=burn.rates(),
        alerts=burn.firing(),
        fastest_burn_rate=burn.fastest(),
    )


def fastest_burn_rate(
    state: ExperienceState,
    now: datetime,
    slo: float,
    policy: ExperiencePolicy,
    index: TimelineIndex | None = None,
) -> float | None:
    """The highest burn rate sustained over any rule's pair of windows (the smaller rate of a
    pair) among the rules with enough bad time to count; None when no rule has."""
    return _BurnRates(index or state.timeline.index(policy), now, slo, policy).fastest()


def window_signals(totals: Bucket, window: timedelta) -> XlaSignals:
    """The XLA signals of a window's totals; the impact minutes are always a signal (0 when
    nothing was lost), availability is missing only when the whole window was `unknown`."""
    counted = window.total_seconds() - totals.unknown
    availability = None
    if counted > 0:
        availability = min(max(1.0 - totals.bad / counted, 0.0), 1.0)
    csat = totals.csat_sum / totals.csat_count if totals.csat_count > 0 else None
    sentiment = None
    if totals.sentiment_count > 0:
        sentiment = min(max(totals.sentiment_sum / totals.sentiment_count, -1.0), 1.0)
    return XlaSignals(
        availability=availability,
        impact_minutes=max(totals.impact, 0.0),
        csat=None if csat is None else min(max(csat, 1.0), 5.0),
        sentiment=sentiment,
    )


def window_profile(
    profile: ServiceProfile, window: timedelta, policy: ExperiencePolicy
) -> ServiceProfile:
    """The profile with its monthly impact budget scaled to the window."""
    share = window / policy.slo_period
    return profile.model_copy(
        update={"impact_budget_minutes": profile.impact_budget_minutes * share}
    )


def _window_score(
    index: TimelineIndex,
    now: datetime,
    window: timedelta,
    profile: ServiceProfile,
    policy: ExperiencePolicy,
) -> WindowScore:
    totals = index.totals(now - window, now)
    signals = window_signals(totals, window)
    score = xla_score(
        window_profile(profile, window, policy), signals, policy.weights, (now - window, now)
    )
    active = totals.bad > 0 or totals.unknown > 0 or totals.impact > 0 or totals.has_feedback
    return WindowScore(window, score, signals, active)


class _BurnRates:
    def __init__(
        self, index: TimelineIndex, now: datetime, slo: float, policy: ExperiencePolicy
    ) -> None:
        if not 0.0 < slo < 1.0:
            raise ValueError(f"an SLO is a ratio strictly between 0 and 1, got {slo}")
        self._policy = policy
        self._slo = slo
        self._totals = {
            window: index.totals(now - window, now)
            for rule in policy.rules
            for window in (rule.long_window, rule.short_window)
        }

    def rate(self, window: timedelta) -> float | None:
        totals = self._totals[window]
        counted = window.total_seconds() - totals.unknown
        if counted <= 0:
            return None
        return (min(totals.bad, counted) / counted) / (1.0 - self._slo)

    def rates(self) -> dict[timedelta, float | None]:
        return {window: self.rate(window) for window in sorted(self._totals)}

    def _counting(self) -> list[tuple[BurnRateRule, float, float]]:
        floor = self._policy.min_bad.total_seconds()
        found = []
        for rule in self._policy.rules:
            # A hair of tolerance: bucket shares are floating-point sums.
            if self._totals[rule.long_window].bad < floor - 1e-6:
                continue
            long_rate, short_rate = self.rate(rule.long_window), self.rate(rule.short_window)
            if long_rate is not None and short_rate is not None:
                found.append((rule, long_rate, short_rate))
        return found

    def firing(self) -> tuple[BurnRateAlert, ...]:
        firing = [
            BurnRateAlert(rule, long_rate, short_rate)
            for rule, long_rate, short_rate in self._counting()
            if long_rate >= rule.factor and short_rate >= rule.factor
        ]
        firing.sort(key=lambda alert: (alert.severity != "page", -alert.rule.factor))
        return tuple(firing)

    def fastest(self) -> float | None:
        rates = [min(long_rate, short_rate) for _, long_rate, short_rate in self._counting()]
        return max(rates) if rates else None
