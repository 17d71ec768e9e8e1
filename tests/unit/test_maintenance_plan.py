"""Recurring maintenance windows: the calendars' rules, warnings in heavy periods, and planned
impact inside an occurrence (the correlation's maintenance windows, docs/correlation.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from impactline.cli.main import app
from impactline.core.contracts import IncidentEvent
from impactline.core.states import State
from impactline.core.whatif import Condition, WhatIfError, WhatIfModel, simulate
from impactline.core.whatif.maintenance import as_suppressions, check_plan, load_plan
from tests.time_scenarios import CALENDARS, CATALOG, ROUTING, SCORING

ROOT = Path(__file__).parents[2]
DOCUMENTS = {
    p.stem: yaml.safe_load(p.read_text()) for p in (ROOT / "deploy" / "calendars").glob("*.yaml")
}
PLAN = yaml.safe_load((ROOT / "deploy" / "maintenance" / "plan.yaml").read_text())
NOVEMBER = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def test_occurrences_follow_the_calendar_rules_and_heavy_periods_warn() -> None:
    plan = load_plan(PLAN, DOCUMENTS, "plan.yaml")
    found, warnings = check_plan(plan, CATALOG, CALENDARS, *NOVEMBER)
    starts = [(o.window, o.start) for o in found]
    # The first business day of November 2026 is Monday the 2nd (the 1st is a Sunday); 06:00
    # London is 06:00 UTC in GMT.
    assert ("payroll-db-maintenance", datetime(2026, 11, 2, 6, 0, tzinfo=UTC)) in starts
    # Thursdays 20:00-23:00: 5, 12, 19 and 26 November.
    assert [o.start.day for o in found if o.window == "gl-db-patching"] == [5, 12, 19, 26]
    # Thursday 26 November is the first day of the close (last 3 business days: 26, 27, 30),
    # weight 3 all day, for both services db-gl-01 can impair.
    assert {(w.occurrence.start.day, w.service_id, w.period) for w in warnings} == {
        (26, "financial-close", "month-end-close"),
        (26, "bank-reconciliation", "month-end-close"),
    }


def test_a_plan_with_an_unknown_calendar_or_no_rule_names_the_place() -> None:
    with pytest.raises(WhatIfError) as unknown:
        load_plan({**PLAN, "calendar": "uk-finanse"}, DOCUMENTS, "plan.yaml")
    assert unknown.value.field == "plan.yaml: calendar"
    bad = {"calendar": "uk-finance", "windows": [{"id": "w", "cis": ["db-gl-01"]}]}
    with pytest.raises(WhatIfError) as no_rule:
        load_plan(bad, DOCUMENTS, "plan.yaml")
    assert no_rule.value.field == "plan.yaml: windows[0]"


def test_impact_inside_an_occurrence_is_planned_and_opens_no_incident() -> None:
    plan = load_plan(PLAN, DOCUMENTS, "plan.yaml")
    found = plan.occurrences(*NOVEMBER)
    model = WhatIfModel(
        CATALOG, CALENDARS, SCORING, ROUTING, suppressions=as_suppressions(found), catalog_version=1
    )
    start = datetime(2026, 11, 12, 20, 30, tzinfo=UTC)  # inside Thursday's patching window
    inside = simulate(model, [Condition("db-gl-01", State.DOWN)], start, timedelta(hours=1))
    assert inside.services and all(s.planned for s in inside.services)
    run = model.pipeline()
    outputs = []
    for event in inside.telemetry:
        outputs += run.event(event, event.time)
    outputs += run.run_until(start + timedelta(hours=2))
    assert not [o for o in outputs if isinstance(o.event, IncidentEvent)]
    outside = simulate(
        model,
        [Condition("db-gl-01", State.DOWN)],
        start + timedelta(days=1),
        timedelta(hours=1),
    )
    assert not any(s.planned for s in outside.services)


def test_the_check_command_warns_and_strict_fails() -> None:
    args = ["maintenance", "check", str(ROOT / "deploy" / "maintenance" / "plan.yaml")]
    window = ["--from", "2026-11-01T00:00", "--days", "30"]
    result = CliRunner().invoke(app, [*args, *window, "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["warnings"]) == 2
    strict = CliRunner().invoke(app, [*args, *window, "--strict"])
    assert strict.exit_code == 1
