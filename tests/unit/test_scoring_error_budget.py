"""SLO error budget and multi-window, multi-burn-rate alerts."""

from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.scoring import (
    AlertSeverity,
    AvailabilitySample,
    SampleWindow,
    burn_rate,
    burn_rate_alerts,
    error_budget,
    fastest_burn_rate,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SLO = 0.999


def minutes(count: int, error_ratio: float, ending: datetime = NOW, per_minute: int = 1000):
    """One sample a minute for `count` minutes up to `ending`, with a fixed error ratio."""
    bad = round(per_minute * error_ratio)
    return [
        AvailabilitySample(ending - timedelta(minutes=offset), per_minute - bad, per_minute)
        for offset in range(count)
    ]


def test_error_budget_over_a_window():
    # 30 days x 1000 requests a minute = 43 200 000 requests; the budget is 0.1 % = 43 200.
    samples = minutes(30 * 24 * 60, 0.0)
    samples += [AvailabilitySample(NOW - timedelta(hours=1), 0, 21_600)]
    budget = error_budget(samples, SLO, NOW - timedelta(days=30), NOW)
    assert budget.total == 43_200_000 + 21_600
    assert budget.bad == 21_600
    # 21 600 bad of an allowance of 0.1 % x 43 221 600 = 43 221.6 -> about half spent.
    assert budget.consumed == pytest.approx(21_600 / 43_221.6)
    assert budget.remaining == pytest.approx(1 - 21_600 / 43_221.6)


def test_burn_rate_is_error_ratio_over_budget_ratio():
    samples = minutes(60, 0.02)
    # 2 % errors against a 0.1 % budget: 20x.
    assert burn_rate(samples, SLO, NOW, timedelta(hours=1)) == pytest.approx(20.0)
    assert burn_rate([], SLO, NOW, timedelta(hours=1)) is None


def test_sustained_fast_burn_pages_on_the_one_hour_rule_only():
    # 2 % errors for the last hour on top of a clean 3 days:
    # 1h: 20x >= 14.4, 5m: 20x -> page. 6h: 20/6 = 3.3x < 6. 3d: far below 1.
    samples = minutes(3 * 24 * 60, 0.0, ending=NOW - timedelta(hours=1)) + minutes(60, 0.02)
    alerts = burn_rate_alerts(samples, SLO, NOW)
    assert [alert.rule.name for alert in alerts] == ["1h/5m x14.4"]
    assert alerts[0].severity is AlertSeverity.PAGE
    assert alerts[0].long_burn_rate == pytest.approx(20.0)


CLEAN_HISTORY = minutes(3 * 24 * 60, 0.0, ending=NOW - timedelta(minutes=70))


def test_short_burst_does_not_page():
    # 2 % errors for only the last 10 minutes after a clean history: 1h burn = 20 x 10/60 = 3.3x,
    # 6h burn = 20 x 10/360 = 0.56x, 3d far lower; no long window reaches its factor.
    samples = CLEAN_HISTORY + minutes(60, 0.0, ending=NOW - timedelta(minutes=10))
    samples += minutes(10, 0.02)
    assert burn_rate(samples, SLO, NOW, timedelta(hours=1)) == pytest.approx(20 * 10 / 60)
    assert burn_rate_alerts(samples, SLO, NOW) == ()


def test_alert_stops_soon_after_the_burning_stops():
    # An hour of 2 % errors that ended 10 minutes ago: the 1h window still burns at
    # 20 x 50/60 = 16.7x but its 5-minute window is clean, so the 1h rule is quiet; the 6h
    # window burns 20 x 60/360 = 3.3x < 6.
    samples = CLEAN_HISTORY + minutes(60, 0.02, ending=NOW - timedelta(minutes=10))
    samples += minutes(10, 0.0)
    assert burn_rate(samples, SLO, NOW, timedelta(hours=1)) == pytest.approx(20 * 50 / 60)
    assert burn_rate(samples, SLO, NOW, timedelta(minutes=5)) == 0.0
    assert burn_rate_alerts(samples, SLO, NOW) == ()


def test_slow_steady_burn_opens_a_ticket():
    # 0.15 % errors for 3 days: 1.5x on every window -> only the 3d/6h x1 rule.
    samples = minutes(3 * 24 * 60, 0.0015)
    alerts = burn_rate_alerts(samples, SLO, NOW)
    assert [alert.rule.name for alert in alerts] == ["3d/6h x1"]
    assert alerts[0].severity is AlertSeverity.TICKET


def test_heavy_outage_fires_every_rule_pages_first():
    samples = SampleWindow(minutes(3 * 24 * 60, 0.05))
    alerts = burn_rate_alerts(samples, SLO, NOW)
    assert [alert.severity for alert in alerts] == [
        AlertSeverity.PAGE,
        AlertSeverity.PAGE,
        AlertSeverity.TICKET,
    ]
    assert alerts[0].rule.factor == 14.4
    assert fastest_burn_rate(samples, SLO, NOW) == pytest.approx(50.0)


def test_fastest_burn_rate_takes_the_weaker_window_of_each_pair():
    # The same burst that ended 10 minutes ago, in burn-minutes (minutes x 20x):
    #   1h/5m pair:  min(1000/60 = 16.7, 0)              = 0
    #   6h/30m pair: min(1200/360 = 3.33, 400/30 = 13.3)  = 3.33
    #   3d/6h pair:  min(1200/4320 = 0.28, 3.33)          = 0.28
    # fastest sustained burn = 3.33x
    samples = CLEAN_HISTORY + minutes(60, 0.02, ending=NOW - timedelta(minutes=10))
    samples += minutes(10, 0.0)
    assert fastest_burn_rate(samples, SLO, NOW) == pytest.approx(1200 / 360)
    assert fastest_burn_rate([], SLO, NOW) is None


def test_samples_are_validated():
    with pytest.raises(ValueError, match="good <= total"):
        AvailabilitySample(NOW, 11, 10)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        burn_rate(minutes(5, 0.0), 1.0, NOW, timedelta(minutes=5))
    with pytest.raises(ValueError, match="no time zone"):
        SampleWindow([AvailabilitySample(datetime(2026, 1, 1), 1, 1)])
