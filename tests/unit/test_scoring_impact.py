"""Impact rate, affected personas and visibility."""

import pytest
from pydantic import ValidationError

from impactline.core.calendar import CalendarWeight
from impactline.core.scoring import (
    ImpactFactors,
    Persona,
    ServiceProfile,
    StakeholderType,
    Vip,
    affected_personas,
    assess_visibility,
    impact_rate,
)
from impactline.core.states import State

PAYROLL = ServiceProfile(
    id="payroll",
    tier=2,
    users=300,
    personas=(
        Persona(name="employees", users=250, weight=0.5),
        Persona(name="payroll-clerks", users=40, weight=2.0),
        Persona(
            name="hr-director",
            stakeholder=StakeholderType.EXPERIENCE_APPROVER,
            users=1,
            weight=5.0,
            periods=("payroll-run",),
        ),
        Persona(name="budget-owners", stakeholder=StakeholderType.RESOURCE_ALLOCATOR, users=0),
    ),
    vip_users=(Vip(user="ceo"), Vip(user="hrd", persona="hr-director")),
)


def at(weight: float, *periods: str) -> CalendarWeight:
    return CalendarWeight(weight, periods[0], periods, "Europe/London")


def test_rate_multiplies_state_users_tier_and_calendar():
    rate = impact_rate(PAYROLL, State.DOWN, at(2.0, "payroll-run", "business-hours"))
    # weighted users: 250 x 0.5 + 40 x 2.0 + 1 x 5.0 + 0 = 125 + 80 + 5 = 210
    # rate = 1.0 (down) x 210 x 1.2 (tier 2) x 2.0 = 504
    assert rate.weighted_users == pytest.approx(210.0)
    assert rate.affected_users == 291
    assert rate.tier_factor == 1.2
    assert rate.rate == pytest.approx(504.0)
    assert rate.reach == pytest.approx(252.0)


def test_period_bound_personas_only_count_during_their_periods():
    rate = impact_rate(PAYROLL, State.DOWN, at(1.0, "business-hours"))
    # 125 + 80 = 205 without the HR director; x 1.2 = 246.
    assert "hr-director" not in rate.personas
    assert rate.rate == pytest.approx(246.0)


def test_incident_limited_to_some_personas_and_a_fraction_of_users():
    rate = impact_rate(
        PAYROLL,
        State.DEGRADED,
        at(1.0, "business-hours"),
        personas=["payroll-clerks"],
        affected_fraction=0.25,
    )
    # 40 clerks x 2.0 x 0.25 = 20 weighted users (10 people); 0.5 x 20 x 1.2 x 1.0 = 12.
    assert rate.affected_users == 10
    assert rate.rate == pytest.approx(12.0)


def test_service_without_personas_counts_every_user_once():
    simple = ServiceProfile(id="intranet", tier=4, users=1000)
    rate = impact_rate(simple, State.DEGRADED, at(0.3, "off-hours"))
    # 0.5 x 1000 x 0.8 (tier 4) x 0.3 = 120
    assert rate.rate == pytest.approx(120.0)


def test_no_calendar_means_weight_one_and_only_always_on_personas():
    rate = impact_rate(PAYROLL, State.DOWN, None)
    assert rate.calendar_weight == 1.0
    assert rate.rate == pytest.approx(246.0)


@pytest.mark.parametrize(("state", "expected"), [(State.OK, 0.0), (State.UNKNOWN, 0.0)])
def test_healthy_or_unknown_state_has_no_impact(state, expected):
    assert impact_rate(PAYROLL, state, at(3.0, "payroll-run")).rate == expected


def test_factors_are_configurable_and_partial_overrides_keep_the_other_defaults():
    factors = ImpactFactors(state={State.DEGRADED: 0.25}, tier={2: 2.0})
    rate = impact_rate(PAYROLL, State.DEGRADED, at(1.0, "business-hours"), factors=factors)
    # 0.25 x 205 x 2.0 = 102.5
    assert rate.rate == pytest.approx(102.5)
    # down keeps 1.0: 1.0 x 205 x 2.0 = 410
    down = impact_rate(PAYROLL, State.DOWN, at(1.0, "business-hours"), factors=factors)
    assert down.rate == pytest.approx(410.0)
    assert factors.tier_factor(1) == 1.5


def test_unknown_persona_and_bad_fraction_are_refused():
    with pytest.raises(KeyError, match="no persona 'contractors'"):
        impact_rate(PAYROLL, State.DOWN, None, personas=["contractors"])
    with pytest.raises(ValueError, match="between 0 and 1"):
        impact_rate(PAYROLL, State.DOWN, None, affected_fraction=1.5)


def test_approver_persona_makes_the_impact_high_visibility_only_when_reached():
    without_service_vip = PAYROLL.model_copy(
        update={"vip_users": (Vip(user="hrd", persona="hr-director"),)}
    )
    reached = affected_personas(without_service_vip, ("payroll-run",))
    visibility = assess_visibility(without_service_vip, reached)
    assert visibility.high
    assert visibility.approver_personas == ("hr-director",)
    assert visibility.vips == ("hrd",)
    assert visibility.reasons == (
        "experience approvers affected: hr-director",
        "VIP users affected: hrd (hr-director)",
    )
    quiet = affected_personas(without_service_vip, ("business-hours",))
    assert not assess_visibility(without_service_vip, quiet).high


def test_a_vip_without_persona_is_tied_to_the_whole_service():
    # the CEO is a VIP of Payroll itself: any impact that hurts someone reaches the CEO
    reached = affected_personas(PAYROLL, ("business-hours",))
    visibility = assess_visibility(PAYROLL, reached)
    assert visibility.high and visibility.vips == ("ceo",)
    assert visibility.reasons == ("VIP users affected: ceo",)
    # ... and nothing reaches anyone when nobody is hurt
    assert not assess_visibility(PAYROLL, (), hurt=False).high


def test_a_vip_who_reports_a_problem_is_reached_even_when_their_persona_is_not():
    only_hrd = PAYROLL.model_copy(update={"vip_users": (Vip(user="hrd", persona="hr-director"),)})
    # outside the payroll run the HR director persona is not affected ...
    reached = affected_personas(only_hrd, ("business-hours",))
    assert not assess_visibility(only_hrd, reached).high
    # ... but the HR director's own complaint makes it high-visibility; other users do not
    reported = assess_visibility(only_hrd, reached, affected_users=["hrd", "someone"])
    assert reported.high and reported.vips == () and reported.reporting_vips == ("hrd",)
    assert reported.reasons == ("VIP users reported a problem: hrd",)


def test_profile_validation_catches_inconsistent_personas():
    with pytest.raises(ValidationError, match="repeated: staff"):
        ServiceProfile(
            id="x", personas=(Persona(name="staff", users=1), Persona(name="staff", users=2))
        )
    with pytest.raises(ValidationError, match="unknown personas: board"):
        ServiceProfile(id="x", vip_users=(Vip(user="chair", persona="board"),))
    with pytest.raises(ValidationError, match="tier"):
        ServiceProfile(id="x", tier=5)
