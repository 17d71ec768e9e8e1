"""Business impact minutes accrue exactly, split where the calendar changes."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import BusinessCalendar
from impactline.core.scoring import (
    ImpactAccrual,
    Persona,
    ServiceProfile,
    StakeholderType,
    rate_function,
)
from impactline.core.states import State

LONDON = ZoneInfo("Europe/London")

FINANCE = BusinessCalendar.from_document(
    "finance",
    {
        "timezone": "Europe/London",
        "baseline": {"name": "off-hours", "weight": 0.3},
        "periods": [
            {"name": "month-end-close", "weight": 3.0, "month_end": {"business_days": 3}},
            {
                "name": "payroll-run",
                "weight": 2.0,
                "rrule": {
                    "rule": "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;"
                    "BYMONTHDAY=20,21,22,23,24,25;BYSETPOS=-1",
                    "start": "2026-01-01T07:00:00",
                    "duration": "PT12H",
                },
            },
            {
                "name": "business-hours",
                "weight": 1.0,
                "weekly": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "08:00", "to": "18:00"}
                ],
            },
        ],
    },
)

FINANCIAL_CLOSE = ServiceProfile(
    id="financial-close",
    tier=1,
    personas=(
        Persona(name="finance-team", users=120),
        Persona(
            name="cfo-office",
            stakeholder=StakeholderType.EXPERIENCE_APPROVER,
            users=5,
            weight=4.0,
            periods=("month-end-close",),
        ),
    ),
)
DEGRADED = rate_function(FINANCIAL_CLOSE, State.DEGRADED)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def test_constant_rate_accrues_rate_times_minutes():
    accrual = ImpactAccrual.start(local(2026, 11, 12, 10, 0))
    accrual = accrual.advance(local(2026, 11, 12, 10, 45), 90.0)
    # 45 minutes x 90 = 4050
    assert accrual.impact_minutes == pytest.approx(4050.0)
    assert accrual.elapsed == timedelta(minutes=45)


def test_month_end_close_starting_mid_incident_is_counted_from_midnight():
    # Degraded from Wed 25 Nov 17:00 to Thu 26 Nov 09:00 (London, GMT):
    # 17:00-19:00 payroll-run x2.0, finance team only:  0.5 x 120 x 1.5 x 2.0 = 180/min x 120 min
    #                                                                          = 21 600
    # 19:00-00:00 off-hours x0.3:                        0.5 x 120 x 1.5 x 0.3 = 27/min x 300 min
    #                                                                          =  8 100
    # 00:00-09:00 month-end-close x3.0, CFO office joins (120 + 5 x 4 = 140):
    #                                                    0.5 x 140 x 1.5 x 3.0 = 315/min x 540 min
    #                                                                          = 170 100
    # total 199 800 business impact minutes
    accrual = ImpactAccrual.start(local(2026, 11, 25, 17, 0))
    accrual = accrual.advance(local(2026, 11, 26, 9, 0), DEGRADED, FINANCE)
    assert accrual.impact_minutes == pytest.approx(199_800.0)
    assert accrual.peak_rate == pytest.approx(315.0)
    assert accrual.last_rate == pytest.approx(315.0)


def test_many_small_advances_add_up_to_one_large_one():
    start, end = local(2026, 11, 25, 17, 0), local(2026, 11, 26, 9, 0)
    stepwise = ImpactAccrual.start(start)
    moment = start
    while moment < end:
        # Uneven steps so that some of them straddle the 19:00 and midnight changes.
        moment = min(moment + timedelta(minutes=37), end)
        stepwise = stepwise.advance(moment, DEGRADED, FINANCE)
    assert stepwise.impact_minutes == pytest.approx(199_800.0)


def test_business_hours_starting_mid_incident():
    # Degraded 07:30-08:30 on Thu 12 Nov: 30 min x 27 + 30 min x 90 = 810 + 2700 = 3510.
    accrual = ImpactAccrual.start(local(2026, 11, 12, 7, 30))
    accrual = accrual.advance(local(2026, 11, 12, 8, 30), DEGRADED, FINANCE)
    assert accrual.impact_minutes == pytest.approx(3510.0)
    assert accrual.last_rate == pytest.approx(90.0)


def test_incident_across_spring_forward_counts_real_minutes():
    # Sat 28 Mar 23:00 GMT to Sun 29 Mar 03:00 BST is 3 real hours (the wall clock shows 4):
    # 180 min x 27 = 4860.
    accrual = ImpactAccrual.start(local(2026, 3, 28, 23, 0))
    accrual = accrual.advance(local(2026, 3, 29, 3, 0), DEGRADED, FINANCE)
    assert accrual.elapsed == timedelta(hours=3)
    assert accrual.impact_minutes == pytest.approx(4860.0)


def test_accrual_is_immutable_and_idempotent_at_the_same_instant():
    first = ImpactAccrual.start(local(2026, 11, 12, 10, 0))
    later = first.advance(local(2026, 11, 12, 10, 10), 10.0)
    assert first.impact_minutes == 0.0
    assert later.advance(later.updated_at, DEGRADED, FINANCE) == later


def test_accrual_refuses_going_back_naive_times_and_mixed_arguments():
    accrual = ImpactAccrual.start(datetime(2026, 11, 12, 10, tzinfo=UTC))
    with pytest.raises(ValueError, match="backwards"):
        accrual.advance(datetime(2026, 11, 12, 9, tzinfo=UTC), 1.0)
    with pytest.raises(ValueError, match="no time zone"):
        accrual.advance(datetime(2026, 11, 12, 11), 1.0)
    with pytest.raises(ValueError, match="needs the calendar"):
        accrual.advance(datetime(2026, 11, 12, 11, tzinfo=UTC), DEGRADED)
    with pytest.raises(ValueError, match="already weighted"):
        accrual.advance(datetime(2026, 11, 12, 11, tzinfo=UTC), 5.0, FINANCE)
    with pytest.raises(ValueError, match="negative"):
        accrual.advance(datetime(2026, 11, 12, 11, tzinfo=UTC), -1.0)
