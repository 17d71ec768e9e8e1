"""`impactline change assess` on the demo catalog: "db-gl-01 down 2 h" planned in the month-end
close. Every figure is worked out here from docs/scoring.md and deploy/catalog, not copied from
a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from impactline.cli.main import app

ROOT = Path(__file__).parents[2]
ARGS = [
    "change",
    "assess",
    "--ci",
    "db-gl-01",
    "--at",
    "2026-11-30T10:00",  # Monday, last business day of the November close (GMT = UTC)
    "--duration",
    "2h",
    "--from",
    "2026-11-23T00:00",  # a week before: the scan covers 23 November to 7 December
    "--days",
    "14",
    "--catalog",
    str(ROOT / "deploy" / "catalog"),
]

# Section 3 of docs/scoring.md, rate = state x weighted users x tier x calendar weight, for the
# two services db-gl-01 takes down through gl-ledger (both `required`, state factor 1.0):
# Financial Close (tier 1, x1.5): 86 x 1.0 + 25 x 1.5 + 9 x 2.0 = 141.5 weighted users, and
# the CFO office (6 x 3.0) only while month-end-close is active: 159.5.
# Bank Reconciliation (tier 2, x1.2): 5 treasury analysts x 1.0.
CLOSE_PER_MINUTE_IN_CLOSE = 159.5 * 1.5 * 3.0 + 5 * 1.2 * 3.0  # 717.75 + 18 = 735.75
# The planned window lies wholly in the close (uk-finance: last 3 business days, whole days).
PLANNED = CLOSE_PER_MINUTE_IN_CLOSE * 120  # 88,290
# The least harmful 2 hours are off-hours x0.3 (uk-finance baseline: nights, weekends); the
# CFO office is not reached outside the close. The earliest is the first hours of the scan,
# Monday 23 November 00:00-02:00, before business hours at 08:00 and the payroll run (25th).
BEST = (141.5 * 1.5 * 0.3 + 5 * 1.2 * 0.3) * 120  # (63.675 + 1.8) x 120 = 7,857


def test_the_close_costs_what_the_rules_say_and_a_night_outside_it_is_proposed() -> None:
    result = CliRunner().invoke(app, [*ARGS, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)

    assert doc["worst_case_business_impact_minutes"] == pytest.approx(PLANNED)
    assert doc["expected_business_impact_minutes"] == pytest.approx(PLANNED)  # risk 1
    assert doc["periods"] == ["month-end-close x3"]
    assert doc["worst_priority"] == "P1" and doc["high_visibility"]
    # 126 Financial Close users (CFO office included) + 5 treasury analysts.
    assert doc["users_affected"] == 131

    best = doc["best"]
    assert best["start"] == "2026-11-23T00:00:00Z" and best["end"] == "2026-11-23T02:00:00Z"
    assert best["business_impact_minutes"] == pytest.approx(BEST)
    assert best["users_affected"] == 120 + 5  # no CFO office outside the close
    assert doc["planned_to_best_ratio"] == pytest.approx(PLANNED / BEST)  # 11.24
    # No proposal falls in the close (26, 27 and 30 November) or the payroll run (25 November
    # 07:00-19:00), and each says what it avoids.
    for option in doc["options"]:
        assert option["periods"] == ["off-hours x0.3"], option
        assert "avoids month-end-close x3" in option["explanation"]
        assert option["start"][:10] not in {"2026-11-26", "2026-11-27", "2026-11-30"}
    assert [o["rank"] for o in doc["options"]] == [1, 2, 3, 4, 5]


def test_the_table_shows_the_close_against_the_best_window() -> None:
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    assert "worst case   88,290 business impact minutes (P1, high visibility)" in result.output
    assert "best window Mon 2026-11-23 00:00-02:00 UTC: 7,857 minutes" in result.output
    assert f"costs {PLANNED / BEST:.1f}x as much" in result.output  # 11.2x


def test_a_bad_ci_or_time_is_refused_with_the_option_named() -> None:
    unknown = CliRunner().invoke(app, [*ARGS, "--ci", "db-gl-1"])
    assert unknown.exit_code == 2
    assert "cis[1].ci_id" in unknown.output and "db-gl-1" in unknown.output
    bad_time = CliRunner().invoke(app, [*ARGS[:5], "30/11/2026", *ARGS[6:]])
    assert bad_time.exit_code == 2 and "--at" in bad_time.output


def test_help_explains_the_options() -> None:
    result = CliRunner().invoke(app, ["change", "assess", "--help"])
    assert result.exit_code == 0
    for option in ("--ci", "--at", "--duration", "--risk", "--outage", "--from", "--days"):
        assert option in result.output
