"""What-if simulation and window scoring on the demo catalog, checked against docs/scoring.md
worked by hand: the figures below come from the rules and the catalog, never from a run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.states import State
from impactline.core.whatif import Condition, WhatIfError, WhatIfModel, simulate
from impactline.core.whatif.change_risk import ChangePlan, assess_change, service_states
from impactline.core.whatif.windows import window_cost
from tests.time_scenarios import CALENDARS, CATALOG, ROUTING, SCORING

MODEL = WhatIfModel(CATALOG, CALENDARS, SCORING, ROUTING, catalog_version=1)
LEDGER_DOWN = [Condition("db-gl-01", State.DOWN)]
TWO_HOURS = timedelta(hours=2)

# docs/scoring.md section 3: rate = state_factor x weighted_users x tier_factor x weight.
# db-gl-01 is required by gl-ledger, which Financial Close and Bank Reconciliation require
# (deploy/catalog/finance.yaml), so both go down: state factor 1.0.
# Financial Close, tier 1 (x1.5): Finance operations 86 x 1.0 + Financial controllers 25 x 1.5
# + Budget holders 9 x 2.0 = 141.5 weighted users; the CFO office (6 x 3.0 = 18) joins only
# during month-end-close: 159.5.
CLOSE_REACH_ORDINARY = 1.0 * (86 * 1.0 + 25 * 1.5 + 9 * 2.0) * 1.5  # 212.25
CLOSE_REACH_MONTH_END = 1.0 * (86 * 1.0 + 25 * 1.5 + 9 * 2.0 + 6 * 3.0) * 1.5  # 239.25
# Bank Reconciliation, tier 2 (x1.2): Treasury analysts 5 x 1.0.
RECONCILIATION_REACH = 1.0 * 5 * 1.0 * 1.2  # 6.0


def test_month_end_outage_is_p1_high_visibility_with_the_minutes_of_the_rules() -> None:
    # Monday 30 November 2026 is the last of the three business days of the close (uk-finance,
    # month_end business_days 3: 26, 27, 30 November), weight 3.0 all day.
    start = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    result = simulate(MODEL, LEDGER_DOWN, start, TWO_HOURS)

    by_id = {s.service_id: s for s in result.services}
    assert set(by_id) == {"financial-close", "bank-reconciliation"}
    close = by_id["financial-close"]
    assert close.curve[0].impact_rate == pytest.approx(CLOSE_REACH_MONTH_END * 3.0)  # 717.75
    assert close.business_impact_minutes == pytest.approx(CLOSE_REACH_MONTH_END * 3.0 * 120)
    assert by_id["bank-reconciliation"].business_impact_minutes == pytest.approx(
        RECONCILIATION_REACH * 3.0 * 120
    )
    # Section 4: reach 239.25 >= 150 is high impact, weight 3.0 >= 2.0 is high urgency: P1,
    # and the CFO office (experience approvers) makes it high-visibility.
    assert close.curve[0].priority == "P1" and close.high_visibility
    assert "CFO office" in close.personas
    assert close.users_affected == 86 + 25 + 9 + 6
    assert [(p.period, p.weight, p.minutes) for p in close.periods] == [
        ("month-end-close", 3.0, 120.0)
    ]
    # The curve is what the live engine publishes: a point a minute, then the recovery.
    assert [p.reason for p in close.curve[:2]] == ["state-change", "accrual"]
    assert close.curve[-1].reason == "recovered" and close.curve[-1].time == start + TWO_HOURS
    assert len(close.curve) == 1 + 119 + 1


def test_an_outage_across_the_end_of_business_hours_changes_weight_at_18_00() -> None:
    # Thursday 12 November 2026 (ordinary day, GMT): 17:00-18:00 business hours x1, then
    # off-hours x0.3 until 19:00.
    start = datetime(2026, 11, 12, 17, 0, tzinfo=UTC)
    result = simulate(MODEL, LEDGER_DOWN, start, TWO_HOURS)
    close = next(s for s in result.services if s.service_id == "financial-close")
    assert [(p.period, p.minutes) for p in close.periods] == [
        ("business-hours", 60.0),
        ("off-hours", 60.0),
    ]
    assert close.business_impact_minutes == pytest.approx(
        CLOSE_REACH_ORDINARY * 1.0 * 60 + CLOSE_REACH_ORDINARY * 0.3 * 60
    )
    assert "weight-change" in {p.reason for p in close.curve}
    # Reach 212.25 is high impact, weight 1.0 medium urgency: P2 at the start.
    assert close.curve[0].priority == "P2" and not close.high_visibility


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 11, 12, 17, 0, tzinfo=UTC),  # across 18:00
        datetime(2026, 11, 25, 23, 30, tzinfo=UTC),  # into the close at midnight
        datetime(2026, 11, 25, 6, 0, tzinfo=UTC),  # into the payroll run at 07:00
    ],
)
def test_the_fast_window_score_is_the_simulation_s(start: datetime) -> None:
    result = simulate(MODEL, LEDGER_DOWN, start, TWO_HOURS)
    cost = window_cost(MODEL.engine(), service_states(result), start, start + TWO_HOURS)
    assert {s.service_id: s.business_impact_minutes for s in cost.services} == pytest.approx(
        {s.service_id: s.business_impact_minutes for s in result.services}
    )
    assert {s.service_id: s.users_affected for s in cost.services} == {
        s.service_id: s.users_affected for s in result.services
    }


def test_bad_conditions_name_the_field() -> None:
    start = datetime(2026, 11, 12, 10, tzinfo=UTC)
    with pytest.raises(WhatIfError) as unknown:
        simulate(MODEL, [Condition("db-gl-1", State.DOWN)], start, TWO_HOURS)
    assert unknown.value.field == "cis[0].ci_id"
    with pytest.raises(WhatIfError) as healthy:
        simulate(MODEL, [Condition("db-gl-01", State.OK)], start, TWO_HOURS)
    assert healthy.value.field == "cis[0].state"
    with pytest.raises(WhatIfError) as naive:
        simulate(MODEL, LEDGER_DOWN, start.replace(tzinfo=None), TWO_HOURS)
    assert naive.value.field == "start"
    with pytest.raises(WhatIfError) as empty:
        simulate(MODEL, LEDGER_DOWN, start, timedelta(0))
    assert empty.value.field == "duration"


def test_expected_cost_is_risk_times_the_assumed_outage() -> None:
    # 20 % risk of a 30-minute outage from 10:00 on the last close day; worst case: 2 hours.
    plan = ChangePlan(
        tuple(LEDGER_DOWN),
        datetime(2026, 11, 30, 10, tzinfo=UTC),
        TWO_HOURS,
        risk=0.2,
        outage=timedelta(minutes=30),
        days=3,
    )
    assessment = assess_change(MODEL, plan, datetime(2026, 11, 23, tzinfo=UTC))
    per_minute = (CLOSE_REACH_MONTH_END + RECONCILIATION_REACH) * 3.0
    assert assessment.worst_case_minutes == pytest.approx(per_minute * 120)
    assert assessment.expected_minutes == pytest.approx(0.2 * per_minute * 30)
    with pytest.raises(WhatIfError) as bad:
        assess_change(
            MODEL, ChangePlan(tuple(LEDGER_DOWN), plan.start, TWO_HOURS, risk=2), plan.start
        )
    assert bad.value.field == "risk"
