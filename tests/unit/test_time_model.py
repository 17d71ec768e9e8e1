"""Outcomes are a function of the events, not of when they arrive (docs/correlation.md, Time).

The same telemetry goes through correlation and impact (`Pipeline`, the processors the stream
workers run) three ways: live (each event read at its own time, the wall clock ticking every
second in between), as one fast replay (everything read at one instant, a year later, no tick
until the end) and with ticks at random moments. Incidents, CI state changes, business service
health, impact events (priorities and business impact minutes included), alerts and ITSM
records must come out the same. XLA reports and error-budget alerts are evaluated on a grid of
the watermark and are left out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impactline.core.contracts import ImpactEvent, ImpactReason
from impactline.core.processing import Output
from impactline.core.states import State
from tests.time_scenarios import (
    CIS,
    flapping_ledger,
    live,
    outcome,
    random_ticks,
    replay,
    telemetry,
)


def test_a_flapping_ci_across_a_calendar_boundary_is_the_same_live_replayed_or_ticked() -> None:
    events = flapping_ledger()
    end = events[-1].time + timedelta(minutes=20)
    expected = outcome(live(events, end))
    assert outcome(replay(events, end)) == expected
    for seed in range(3):
        assert outcome(random_ticks(events, end, seed)) == expected

    impacts = [e for _, e in _decoded(live(events, end)) if isinstance(e, ImpactEvent)]
    # The flapping is one incident (damping holds the CI down) that the weight change at 18:00
    # reaches: business hours x1 before, off-hours x0.3 after.
    changes = [e for e in impacts if e.reason is ImpactReason.WEIGHT_CHANGE]
    assert {e.service_id for e in changes} >= {"financial-close"}
    assert {e.time for e in changes} == {datetime(2026, 11, 12, 18, tzinfo=UTC)}
    incidents = {e.incident_id for e in impacts if e.service_id == "financial-close"}
    assert len(incidents - {None}) == 1


def _decoded(outputs: list[Output]) -> list[tuple[str, object]]:
    return [(o.topic.name, o.event) for o in outputs]


steps = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=240),
        st.sampled_from(CIS),
        st.sampled_from((State.OK, State.DEGRADED, State.DOWN)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, seed=st.integers(min_value=0, max_value=2**16))
def test_any_event_sequence_gives_the_same_outcome_however_it_arrives(
    steps: list[tuple[int, str, State]], seed: int
) -> None:
    events = telemetry(steps)
    end = events[-1].time + timedelta(minutes=15)
    expected = outcome(live(events, end))
    assert outcome(replay(events, end)) == expected
    assert outcome(random_ticks(events, end, seed)) == expected
