"""XLA scores per rolling window, and target breaches reported as events.

Financial Close: SLO 99.9 %, XLA target 80, impact budget 2,400 minutes a month (30 days).
Weights availability 0.3, impact 0.3, CSAT 0.15, sentiment 0.15 (no latency signal).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impactline.core.contracts import (
    FeedbackEvent,
    ImpactEvent,
    ImpactReason,
    ServiceHealthEvent,
    Weighting,
    XlaReportReason,
)
from impactline.core.experience import (
    ExperiencePolicy,
    ExperienceState,
    ServiceRef,
    evaluate,
    publish,
    record_feedback,
    record_health,
    record_impact,
)
from impactline.core.scoring import ServiceProfile
from impactline.core.states import State

PROFILE = ServiceProfile(
    id="financial-close",
    tier=1,
    users=120,
    slo_target=0.999,
    xla_target=80,
    impact_budget_minutes=2400,
)
SERVICE = ServiceRef("financial-close", "Financial Close", "Finance Systems")
MONTH = ExperiencePolicy(windows=(timedelta(days=30),))
DEFAULT = ExperiencePolicy()
_ids = iter(range(1_000_000))


def at(hour: int, minute: int = 0, second: int = 0, day: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def degraded_between(start: datetime, end: datetime, policy: ExperiencePolicy) -> ExperienceState:
    state = ExperienceState("financial-close")
    for new_state, when in ((State.DEGRADED, start), (State.OK, end)):
        n = next(_ids)
        event = ServiceHealthEvent(
            id=f"health-{n}",
            service_id="financial-close",
            state=new_state,
            previous_state=State.OK,
            time=when,
            correlation_domain="london-core",
            cause_ci_id="db-gl-01",
            cause_event_id=f"telemetry-{n}",
            catalog_version=1,
        )
        state = record_health(state, event, policy)
    return state


def impact(minutes: float, when: datetime, reason: ImpactReason) -> ImpactEvent:
    return ImpactEvent(
        id=f"impact-{next(_ids)}",
        reason=reason,
        episode_id="episode-1",
        service_id="financial-close",
        service_name="Financial Close",
        business_domain="finance",
        correlation_domain="london-core",
        state=State.OK if reason is ImpactReason.RECOVERED else State.DEGRADED,
        time=when,
        cause_ci_id="db-gl-01",
        cause_event_id="telemetry-0",
        users_affected=120,
        tier=1,
        weighting=Weighting.UNWEIGHTED,
        impact_rate=60.0,
        business_impact_minutes=minutes,
        catalog_version=1,
    )


def rated(
    state: ExperienceState,
    *ratings: int,
    when: datetime,
    comment: str | None = None,
    policy: ExperiencePolicy = MONTH,
) -> ExperienceState:
    for rating in ratings:
        feedback = FeedbackEvent(
            id=f"feedback-{next(_ids)}",
            service_id="financial-close",
            time=when,
            csat=rating,
            comment=comment,
        )
        state = record_feedback(state, feedback, policy)
    return state


def month_state() -> ExperienceState:
    """10 minutes degraded, 600 impact minutes, ratings 2 and 3, all this morning."""
    state = degraded_between(at(10), at(10, 10), MONTH)
    state = record_impact(state, impact(250, at(10, 5), ImpactReason.ACCRUAL), MONTH)
    state = record_impact(state, impact(600, at(10, 10), ImpactReason.RECOVERED), MONTH)
    return rated(state, 2, 3, when=at(11))


def test_the_composite_score_over_the_month():
    [scored] = evaluate(month_state(), at(12), PROFILE, MONTH).scores
    # availability 1 - 300 / 2,592,000; consumed 0.11574 of the budget -> 100 x (1 - 0.05787)
    # impact 600 of 2,400 minutes: consumed 0.25 -> 87.5
    # CSAT mean 2.5 -> (2.5 - 1) / 4 x 100 = 37.5
    # weights 0.3 / 0.3 / 0.15 re-normalised to 0.4 / 0.4 / 0.2
    assert scored.score.components == pytest.approx(
        {"availability": 94.212963, "impact": 87.5, "csat": 37.5}
    )
    assert scored.score.weights == pytest.approx({"availability": 0.4, "impact": 0.4, "csat": 0.2})
    assert scored.score.score == pytest.approx(80.185185)
    assert not scored.score.breached


def test_the_impact_budget_is_scaled_to_the_window():
    state = month_state()
    scores = {s.window: s for s in evaluate(state, at(12), PROFILE, DEFAULT).scores}
    # the week's budget is 2,400 x 7 / 30 = 560 minutes: 600 is 1.0714 of it -> 46.43
    assert scores[timedelta(days=7)].score.components["impact"] == pytest.approx(46.428571)
    assert scores[timedelta(days=7)].signals.impact_minutes == pytest.approx(600)


def test_negative_comments_lower_the_sentiment_component():
    state = rated(
        ExperienceState("financial-close"),
        1,
        when=at(11),
        comment="Terrible, the close is broken and I lost my work",
    )
    state = rated(
        state, 2, when=at(11, 5), comment="Posting journals is painfully slow, awful morning"
    )
    [scored] = evaluate(state, at(12), PROFILE, MONTH).scores
    # VADER compounds -0.8176 and -0.7506: mean -0.7841 -> (1 - 0.7841) / 2 x 100 = 10.795
    assert scored.signals.sentiment == pytest.approx(-0.7841)
    assert scored.score.components["sentiment"] == pytest.approx(10.795)
    # CSAT 1.5 -> 12.5; availability and impact untouched -> 100 each; weights 0.3 0.3 .15 .15
    assert scored.score.score == pytest.approx((30 + 30 + 0.15 * 12.5 + 0.15 * 10.795) / 0.9)
    assert scored.score.breached


def test_a_breach_is_reported_once_when_crossing_and_once_on_recovery():
    state = month_state()
    first = publish(state, evaluate(state, at(12), PROFILE, MONTH), SERVICE, MONTH)
    [update] = first.reports
    assert (update.reason, update.breached, update.window) == (
        XlaReportReason.UPDATE,
        False,
        "P30D",
    )

    # a rating of 1 brings the CSAT mean to 2 (25): 37.685 + 35 + 5 = 77.685 < 80
    state = rated(first.state, 1, when=at(12))
    crossing = publish(state, evaluate(state, at(12, 0, 10), PROFILE, MONTH), SERVICE, MONTH)
    [breach] = crossing.reports
    assert breach.reason is XlaReportReason.BREACH
    assert (breach.breached, breach.score, breach.target, breach.weakest) == (
        True,
        pytest.approx(77.685, abs=1e-3),
        80,
        "csat",
    )
    assert breach.summary == (
        "Financial Close's experience over the last 30 days fell to 78, below its target "
        "of 80 (weakest: csat at 25)"
    )
    assert breach.error_budget.consumed == pytest.approx(300 / 2592, abs=1e-6)
    assert breach.time == at(12, 0, 10)
    assert breach.window_start == at(12, 0, 10) - timedelta(days=30)

    # still breached on the next evaluations: no new event within the window's step (12 h)
    quiet = publish(
        crossing.state, evaluate(crossing.state, at(12, 0, 20), PROFILE, MONTH), SERVICE, MONTH
    )
    assert quiet.reports == ()
    # the next step brings one periodic update, still breached
    periodic = publish(
        quiet.state, evaluate(quiet.state, at(0, 0, 5, day=13), PROFILE, MONTH), SERVICE, MONTH
    )
    [later] = periodic.reports
    assert (later.reason, later.breached) == (XlaReportReason.UPDATE, True)

    # two ratings of 5: mean 3.2 (55) -> 37.685 + 35 + 11 = 83.685
    state = rated(periodic.state, 5, 5, when=at(0, 1, day=13))
    back = publish(state, evaluate(state, at(0, 1, 5, day=13), PROFILE, MONTH), SERVICE, MONTH)
    [recovered] = back.reports
    assert recovered.reason is XlaReportReason.RECOVERED
    assert (recovered.breached, recovered.score) == (False, pytest.approx(83.685, abs=1e-3))
    again = publish(
        back.state, evaluate(back.state, at(0, 1, 9, day=13), PROFILE, MONTH), SERVICE, MONTH
    )
    assert again.reports == ()
    assert len({update.id, breach.id, later.id, recovered.id}) == 4


def test_a_short_incident_breaches_the_hour_and_the_day_but_not_the_week():
    state = degraded_between(at(10), at(10, 10), DEFAULT)
    outcome = publish(state, evaluate(state, at(10, 10), PROFILE, DEFAULT), SERVICE, DEFAULT)
    by_window = {r.window: r for r in outcome.reports}
    # 300 bad seconds: the hour and the day spend their budget more than twice (availability
    # 0); with impact at 100 the score is 50. The week: consumed 0.496 -> 75.2, score 87.6.
    assert {w: (r.reason.value, r.score) for w, r in by_window.items()} == {
        "PT1H": ("breach", 50.0),
        "P1D": ("breach", 50.0),
        "P7D": ("update", pytest.approx(87.599, abs=1e-3)),
        "P30D": ("update", pytest.approx(97.106, abs=1e-3)),
    }
    # an hour later the hour window is clean again: one recovery, the day stays breached
    after = publish(
        outcome.state,
        evaluate(outcome.state, at(11, 10, 1), PROFILE, DEFAULT),
        SERVICE,
        DEFAULT,
    )
    events = [(r.window, r.reason.value) for r in after.reports if r.reason.value != "update"]
    assert events == [("PT1H", "recovered")]
    assert after.state.breached == {"PT1H": False, "P1D": True, "P7D": False, "P30D": False}


def test_windows_where_nothing_happened_stay_quiet():
    state = rated(ExperienceState("financial-close"), 4, when=at(10, day=10), policy=DEFAULT)
    outcome = publish(state, evaluate(state, at(12), PROFILE, DEFAULT), SERVICE, DEFAULT)
    assert [r.window for r in outcome.reports] == ["P7D", "P30D"]


def test_impact_minutes_are_counted_once_per_episode():
    state = ExperienceState("financial-close")
    accrual = impact(250, at(10, 5), ImpactReason.ACCRUAL)
    state = record_impact(state, accrual, MONTH)
    state = record_impact(state, accrual, MONTH)  # redelivered
    state = record_impact(state, impact(600, at(10, 10), ImpactReason.RECOVERED), MONTH)
    [scored] = evaluate(state, at(12), PROFILE, MONTH).scores
    assert scored.signals.impact_minutes == pytest.approx(600)
    assert state.episode_minutes == {}


def test_redelivered_feedback_is_counted_once():
    feedback = FeedbackEvent(id="survey-1", service_id="financial-close", time=at(11), csat=1)
    state = ExperienceState("financial-close")
    state = record_feedback(state, feedback, MONTH)
    state = record_feedback(state, feedback, MONTH)
    state = rated(state, 5, when=at(11))
    [scored] = evaluate(state, at(12), PROFILE, MONTH).scores
    assert scored.signals.csat == pytest.approx(3.0)
