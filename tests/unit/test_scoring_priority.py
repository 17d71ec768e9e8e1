"""Priority from the impact x urgency matrix, including the Financial Close example."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from impactline.core.calendar import CalendarWeight, load_calendar
from impactline.core.scoring import (
    Level,
    Persona,
    PriorityPolicy,
    ScoringConfig,
    ScoringConfigError,
    ServiceProfile,
    StakeholderType,
    Vip,
    assess_impact,
)
from impactline.core.states import State

LONDON = ZoneInfo("Europe/London")
UK_FINANCE = Path(__file__).resolve().parents[2] / "deploy" / "calendars" / "uk-finance.yaml"

FINANCIAL_CLOSE = ServiceProfile(
    id="financial-close",
    tier=1,
    users=125,
    personas=(
        Persona(
            name="finance-team",
            stakeholder=StakeholderType.SERVICE_EVALUATOR,
            users=120,
            weight=1.0,
        ),
        # The CFO office relies on the service only while the books are being closed.
        Persona(
            name="cfo-office",
            stakeholder=StakeholderType.EXPERIENCE_APPROVER,
            users=5,
            weight=4.0,
            periods=("month-end-close",),
        ),
    ),
    vip_users=(Vip(user="cfo", persona="cfo-office"),),
)


@pytest.fixture(scope="module")
def uk_finance():
    return load_calendar(UK_FINANCE)


def weight(value: float, *periods: str) -> CalendarWeight:
    return CalendarWeight(value, periods[0], periods, "Europe/London")


def test_mid_month_latency_incident_is_p3(uk_finance):
    calendar = uk_finance.weight_at(datetime(2026, 11, 12, 10, 0, tzinfo=LONDON))
    assessment = assess_impact(FINANCIAL_CLOSE, State.DEGRADED, calendar)
    # Only the finance team relies on the service mid-month: 120 users x weight 1.0 = 120.
    # reach = state 0.5 (degraded) x 120 x tier-1 factor 1.5 = 90      -> 30 <= 90 < 150: medium
    # rate  = reach 90 x calendar weight 1.0 (business-hours) = 90 weighted user-minutes/min
    # urgency: weight 1.0 is >= 0.8 and < 2.0                           -> medium
    # matrix[medium][medium] = P3; no experience approver, no VIP       -> normal visibility
    assert assessment.rate.reach == pytest.approx(90.0)
    assert assessment.rate.rate == pytest.approx(90.0)
    assert assessment.rate.affected_users == 120
    assert assessment.priority.impact is Level.MEDIUM
    assert assessment.priority.urgency is Level.MEDIUM
    assert assessment.priority.label == "P3"
    assert not assessment.priority.high_visibility


def test_month_end_close_incident_is_p1_with_high_visibility(uk_finance):
    calendar = uk_finance.weight_at(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))
    assessment = assess_impact(FINANCIAL_CLOSE, State.DEGRADED, calendar)
    # month-end-close is active, so the CFO office joins: 120 x 1.0 + 5 x 4.0 = 140.
    # reach = 0.5 x 140 x 1.5 = 105                     -> medium, raised to high (approvers)
    # rate  = 105 x calendar weight 3.0 = 315 weighted user-minutes/min
    # urgency: weight 3.0 >= 2.0                        -> high
    # matrix[high][high] = P1
    assert assessment.rate.rate == pytest.approx(315.0)
    assert assessment.rate.affected_users == 125
    assert assessment.rate.personas == ("finance-team", "cfo-office")
    assert assessment.priority.impact is Level.HIGH
    assert assessment.priority.urgency is Level.HIGH
    assert assessment.priority.label == "P1"
    assert assessment.priority.high_visibility
    assert assessment.visibility.approver_personas == ("cfo-office",)
    assert assessment.visibility.vips == ("cfo",)
    assert any("experience approvers" in reason for reason in assessment.priority.reasons)


def test_mid_month_outage_is_p2():
    # reach = 1.0 (down) x 120 x 1.5 = 180 >= 150 -> high; urgency medium -> P2.
    assessment = assess_impact(FINANCIAL_CLOSE, State.DOWN, weight(1.0, "business-hours"))
    assert assessment.priority.label == "P2"


def test_night_time_degradation_is_p4():
    # reach 90 -> medium; weight 0.3 < 0.8 -> low urgency -> P4.
    assessment = assess_impact(FINANCIAL_CLOSE, State.DEGRADED, weight(0.3, "off-hours"))
    assert assessment.rate.rate == pytest.approx(27.0)
    assert assessment.priority.label == "P4"


@pytest.mark.parametrize(
    ("burn", "label"),
    [(None, "P3"), (2.0, "P3"), (6.0, "P3"), (14.4, "P2"), (1000.0, "P2")],
)
def test_fast_error_budget_burn_raises_urgency(burn, label):
    # Mid-month: impact medium. Calendar urgency is medium; a burn at the paging rate (14.4x)
    # makes it high -> P2. 6x gives medium, no higher than the calendar already says.
    assessment = assess_impact(
        FINANCIAL_CLOSE, State.DEGRADED, weight(1.0, "business-hours"), burn_rate=burn
    )
    assert assessment.priority.label == label


def test_burn_rate_lifts_off_hours_urgency_to_medium():
    assessment = assess_impact(
        FINANCIAL_CLOSE, State.DEGRADED, weight(0.3, "off-hours"), burn_rate=7.0
    )
    assert assessment.priority.urgency is Level.MEDIUM
    assert assessment.priority.label == "P3"


def test_a_healthy_service_gets_the_lowest_priority_whatever_the_calendar():
    assessment = assess_impact(FINANCIAL_CLOSE, State.OK, weight(3.0, "month-end-close"))
    assert assessment.rate.rate == 0
    assert assessment.priority.label == "P5"
    assert not assessment.visibility.high


def test_a_vip_reporting_a_problem_raises_impact_without_an_approver_persona():
    # The CFO's persona (cfo-office) is not affected mid-month, but the CFO reported the
    # problem: reach 90 (medium) raised to high by the VIP; weight 1.0 -> medium urgency -> P2.
    assessment = assess_impact(
        FINANCIAL_CLOSE,
        State.DEGRADED,
        weight(1.0, "business-hours"),
        affected_users=["cfo"],
    )
    assert assessment.visibility.reporting_vips == ("cfo",)
    assert assessment.priority.label == "P2"


def test_policy_is_configurable():
    config = ScoringConfig.from_mapping(
        {
            "priority": {
                "impact_high_at": 80,
                "visibility_raises_impact": False,
                "matrix": [[1, 1, 2], [2, 3, 4], [3, 4, 5]],
            },
            "factors": {"tier": {"1": 2.0}},
        }
    )
    # reach = 0.5 x 120 x 2.0 = 120 >= 80 -> high; weight 1.0 -> medium; matrix[0][1] = 1.
    assessment = assess_impact(
        FINANCIAL_CLOSE, State.DEGRADED, weight(1.0, "business-hours"), config=config
    )
    assert assessment.rate.reach == pytest.approx(120.0)
    assert assessment.priority.label == "P1"


@pytest.mark.parametrize(
    ("mapping", "fragment"),
    [
        ({"priority": {"matrix": [[1, 2, 3], [2, 3, 4], [3, 4, 9]]}}, "priority: matrix cells"),
        ({"priority": {"impact_high_at": 10, "impact_medium_at": 20}}, "impact_medium_at"),
        ({"priority": {"urgency": 3}}, "priority.urgency: Extra inputs are not permitted"),
        ({"xla": {"csat": -1}}, "xla.csat"),
        ({"factors": {"state": {"broken": 1}}}, "factors.state.broken"),
    ],
)
def test_bad_scoring_configuration_names_the_path(mapping, fragment):
    with pytest.raises(ScoringConfigError) as caught:
        ScoringConfig.from_mapping(mapping, source="scoring.yaml")
    assert str(caught.value).startswith("scoring.yaml: ")
    assert fragment in str(caught.value)


def test_policy_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match="burn_rate_medium <= burn_rate_high"):
        PriorityPolicy(burn_rate_medium=20)
