"""Error-budget burn feeding the urgency of impact, with the demo catalog and calendar.

DESIGN section 6 mid-month: Financial Close degraded on 12 November 2026 10:00 London, reach
106.125 (medium), calendar weight 1.0 (medium urgency): P3. Burn urgency: high from 14.4x,
medium from 6x. The SLO is 99.9 %.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import load_calendar
from impactline.core.catalog import load_catalog
from impactline.core.contracts import ImpactReason, ServiceHealthEvent
from impactline.core.experience import (
    ExperiencePolicy,
    ExperienceState,
    fastest_burn_rate,
    record_health,
)
from impactline.core.impact import ImpactEngine
from impactline.core.states import State

ROOT = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
CATALOG = load_catalog([ROOT / "deploy" / "catalog"])
POLICY = ExperiencePolicy()
MID_MONTH = datetime(2026, 11, 12, 10, 0, tzinfo=LONDON)


def engine() -> ImpactEngine:
    return ImpactEngine(
        CATALOG, {"uk-finance": load_calendar(ROOT / "deploy" / "calendars" / "uk-finance.yaml")}
    )


def degraded(when: datetime) -> ServiceHealthEvent:
    return ServiceHealthEvent(
        id=f"health-{when.isoformat()}",
        service_id="financial-close",
        state=State.DEGRADED,
        previous_state=State.OK,
        time=when,
        correlation_domain="london-core",
        cause_ci_id="db-gl-01",
        cause_event_id=f"latency-critical-{when.isoformat()}",
        catalog_version=0,
    )


def slo(impact: ImpactEngine) -> float:
    view = impact.view("financial-close")
    assert view is not None
    return view.profile.slo_target


def test_slo_of_financial_close_comes_from_the_catalog():
    assert slo(engine()) == pytest.approx(0.999)


def test_a_fresh_degradation_stays_p3_mid_month_and_burn_raises_it_to_p2_after_minutes():
    impact = engine()
    health = degraded(MID_MONTH)
    experience = record_health(ExperienceState("financial-close"), health, POLICY)
    burn = fastest_burn_rate(experience, MID_MONTH, slo(impact), POLICY)
    assert burn is None  # nothing has burnt yet
    opened = impact.on_health(None, health, burn_rate=burn)
    assert opened.state is not None
    assert opened.impacts[0].event.priority == "P3"
    [alert] = opened.alerts
    assert alert.priority == "P3"

    # one minute in: 30 bad seconds, under the 2-minute floor: no evidence, still P3
    one_minute = MID_MONTH + timedelta(minutes=1)
    burn = fastest_burn_rate(experience, one_minute, slo(impact), POLICY)
    assert burn is None
    step = impact.on_tick(opened.state, one_minute, burn_rate=burn)
    assert step.state is not None
    assert [(i.event.reason, i.event.priority) for i in step.impacts] == [
        (ImpactReason.ACCRUAL, "P3")
    ]
    assert step.alerts == ()

    # five minutes in: 150 bad seconds; 1 h burns 150/3600/0.001 = 41.7, 5 min 500
    five_minutes = MID_MONTH + timedelta(minutes=5)
    burn = fastest_burn_rate(experience, five_minutes, slo(impact), POLICY)
    assert burn is not None and round(burn, 1) == 41.7
    raised = impact.on_tick(step.state, five_minutes, burn_rate=burn)
    event = raised.impacts[-1].event  # the accruals of minutes 2 to 5, the burn seen at 5
    # medium impact x high urgency (burn >= 14.4) = P2
    assert (event.priority, event.impact_level, event.urgency) == ("P2", 2, 1)
    [re_alert] = raised.alerts
    assert (re_alert.priority, re_alert.dedup_key) == ("P2", alert.dedup_key)
    [record] = raised.itsm
    assert (record.action.value, record.urgency, record.priority) == ("update", 1, "P2")


def test_without_a_burn_rate_the_engine_behaves_as_before():
    impact = engine()
    opened = impact.on_health(None, degraded(MID_MONTH))
    assert opened.state is not None
    later = impact.on_tick(opened.state, MID_MONTH + timedelta(minutes=5))
    assert [i.event.priority for i in later.impacts] == ["P3"] * 5


def test_a_slow_burn_gives_medium_urgency_only():
    impact = engine()
    opened = impact.on_health(None, degraded(MID_MONTH), burn_rate=6.5)
    # burn 6.5 is medium urgency, the calendar's 1.0 is medium too: P3 stays
    assert opened.impacts[0].event.priority == "P3"
