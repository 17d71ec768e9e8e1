"""DESIGN section 6 with the demo catalog and calendar: the same `db-gl-01` latency incident on
Financial Close is P3 mid-month and P1 with high visibility during the month-end close.

Financial Close (deploy/catalog/finance.yaml) is tier 1 (factor 1.5) with four personas:
Finance operations 80 x 1.0, Financial controllers 25 x 1.5, Budget holders 9 x 2.0 and the
CFO office 6 x 3.0 (experience approvers, relying on the service during `month-end-close`).
Latency critical on `db-gl-01` makes the service degraded (state factor 0.5).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import load_calendar
from impactline.core.catalog import load_catalog
from impactline.core.contracts import ServiceHealthEvent, Weighting
from impactline.core.impact import ImpactEngine, Step, load_routing_rules
from impactline.core.states import State

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
DEMO_CATALOG = load_catalog([ROOT / "deploy" / "catalog"])


def engine() -> ImpactEngine:
    return ImpactEngine(
        DEMO_CATALOG,
        {"uk-finance": load_calendar(ROOT / "deploy" / "calendars" / "uk-finance.yaml")},
        routing=load_routing_rules(ROOT / "deploy" / "impact" / "routing.yaml"),
    )


def latency_critical(at: datetime) -> ServiceHealthEvent:
    return ServiceHealthEvent(
        id=f"health-{at.date()}",
        service_id="financial-close",
        state=State.DEGRADED,
        previous_state=State.OK,
        time=at,
        correlation_domain="london-core",
        cause_ci_id="db-gl-01",
        cause_event_id=f"latency-critical-{at.date()}",
        catalog_version=0,
    )


def opened(impact: ImpactEngine, at: datetime) -> Step:
    return impact.on_health(None, latency_critical(at))


def test_month_end_close_is_p1_with_high_visibility():
    at = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    step = opened(engine(), at)
    [routed] = step.impacts
    event = routed.event
    assert event.weighting is Weighting.CALENDAR and event.calendar is not None
    assert (event.calendar.period, event.calendar.weight) == ("month-end-close", 3.0)
    # weighted users 86 x 1.0 + 25 x 1.5 + 9 x 2.0 + 6 x 3.0 = 159.5 (all 126 users)
    # reach 0.5 x 159.5 x 1.5 = 119.625: medium (30..150), raised to high by the CFO office
    # urgency: weight 3.0 >= 2.0 is high; high x high = P1
    assert event.users_affected == 126
    assert event.impact_rate == pytest.approx(119.625 * 3.0)
    assert (event.priority, event.impact_level, event.urgency) == ("P1", 1, 1)
    assert event.high_visibility
    assert event.visibility_reasons == [
        "experience approvers affected: CFO office",
        "VIP users affected: cfo@larkspur-trading.example, finance-director@larkspur-trading"
        ".example, group-controller@larkspur-trading.example (CFO office)",
    ]
    assert routed.topics == ("impact.all", "impact.finance", "impact.exec", "impact.major")
    [alert] = step.alerts
    assert alert.summary == (
        "Financial Close is degraded for 126 finance users during month-end close (x3): "
        "P1, CFO office and 3 VIPs affected"
    )
    assert (alert.priority, alert.high_visibility, alert.owner_team) == (
        "P1",
        True,
        "Database Team",
    )
    [record] = step.itsm
    assert (record.impact, record.urgency, record.priority) == (1, 1, "P1")


def test_mid_month_is_p3_without_high_visibility():
    at = datetime(2026, 11, 12, 10, 0, tzinfo=LONDON)
    step = opened(engine(), at)
    event = step.impacts[0].event
    assert event.calendar is not None
    assert (event.calendar.period, event.calendar.weight) == ("business-hours", 1.0)
    # the CFO office relies on the service during month-end close only, so mid-month:
    # 86 x 1.0 + 25 x 1.5 + 9 x 2.0 = 141.5 weighted, 120 users
    # reach 0.5 x 141.5 x 1.5 = 106.125: medium; urgency: weight 1.0 is medium -> P3
    assert event.users_affected == 120
    assert event.impact_rate == pytest.approx(106.125)
    assert (event.priority, event.high_visibility) == ("P3", False)
    assert step.impacts[0].topics == ("impact.all", "impact.finance")
    # both accrue live while open: 10 minutes at 106.125
    later = engine().on_tick(step.state, at + timedelta(minutes=10))
    assert later.impacts[-1].event.business_impact_minutes == pytest.approx(1061.25)


def test_alerts_and_itsm_records_explain_the_business_impact_to_the_people_they_reach():
    at = datetime(2026, 11, 30, 10, 0, tzinfo=LONDON)
    impact = engine()
    step = opened(impact, at)
    [alert], [record] = step.alerts, step.itsm
    for explained in (alert.explanation, record.explanation):
        assert explained is not None
        assert (explained.service_name, explained.business_domain) == ("Financial Close", "finance")
        assert explained.users_affected == 126
        assert "CFO office" in explained.personas_affected
        assert (explained.calendar_period, explained.calendar_weight) == ("month-end-close", 3.0)
        assert explained.visibility_reasons[0] == "experience approvers affected: CFO office"
        assert "(CFO office)" in explained.visibility_reasons[1]  # its three VIPs
        assert explained.cause_ci_id == "db-gl-01"
    # The recovery closes both with what the episode still knows: the minutes it cost.
    recovered = impact.on_health(
        step.state,
        latency_critical(at + timedelta(minutes=10)).model_copy(
            update={"id": "recovered", "state": State.OK, "previous_state": State.DEGRADED}
        ),
    )
    [closing] = recovered.alerts
    assert closing.resolved and closing.explanation is not None
    assert closing.explanation.users_affected is None
    assert closing.explanation.calendar_period == "month-end-close"
    assert closing.explanation.business_impact_minutes == pytest.approx(119.625 * 3.0 * 10)
    assert recovered.itsm[0].explanation == closing.explanation
