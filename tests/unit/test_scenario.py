from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from impactline.core.scenario import Scenario, ScenarioClock

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "scenarios" / "demo.yaml"


def test_demo_replays_the_design_case_in_scenario_time() -> None:
    plan = Scenario.model_validate(yaml.safe_load(DEMO.read_text()))
    clock = ScenarioClock()
    wall = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    times = []
    for step in plan.steps:
        wall += timedelta(seconds=step.after_seconds)
        times.append(step.event(clock.time_of(step, wall)).time)
    # Each recovery lands 65 s of scenario time after its slowdown, on the day of the slowdown.
    assert times[0] == datetime(2026, 11, 12, 10, 0, tzinfo=UTC)
    assert times[1] - times[0] == timedelta(seconds=65)
    assert times[2] == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert times[3] - times[2] == timedelta(seconds=65)
    assert [s.state.value for s in plan.steps] == ["degraded", "ok", "degraded", "ok"]


def test_without_a_set_time_the_scenario_runs_on_the_wall_clock() -> None:
    plan = Scenario.model_validate(
        {"name": "live", "steps": [{"after_seconds": 0, "ci_id": "db-1", "state": "down"}]}
    )
    wall = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    assert ScenarioClock().time_of(plan.steps[0], wall) == wall
