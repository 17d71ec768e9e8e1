"""The demo calendars shipped in deploy/calendars, as the scenario and the CLI use them."""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from impactline.cli.calendar import app
from impactline.core.calendar import load_calendar, load_calendars

CALENDARS = Path(__file__).resolve().parents[2] / "deploy" / "calendars"
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def uk_finance():
    return load_calendar(CALENDARS / "uk-finance.yaml")


@pytest.fixture(scope="module")
def us_sales():
    return load_calendar(CALENDARS / "us-sales.yaml")


def test_mid_month_morning_is_ordinary_business_hours(uk_finance):
    verdict = uk_finance.weight_at(datetime(2026, 11, 12, 10, 0, tzinfo=LONDON))
    assert verdict.weight == 1.0
    assert verdict.period == "business-hours"
    assert verdict.periods == ("business-hours",)
    assert verdict.tz == "Europe/London"


def test_last_business_day_of_november_is_month_end_close(uk_finance):
    verdict = uk_finance.weight_at(datetime(2026, 11, 30, 10, 0, tzinfo=LONDON))
    assert verdict.weight == 3.0
    assert verdict.period == "month-end-close"
    assert verdict.periods == ("month-end-close", "business-hours")


@pytest.mark.parametrize(
    ("local", "weight", "period"),
    [
        # Nov 2026 ends Fri 27, Mon 30; the three last business days are 26, 27, 30.
        (datetime(2026, 11, 25, 23, 0), 0.3, "off-hours"),
        (datetime(2026, 11, 26, 0, 0), 3.0, "month-end-close"),
        (datetime(2026, 11, 28, 12, 0), 0.3, "off-hours"),
        # Payroll: the last weekday on or before the 25th, 07:00 for 12 hours.
        (datetime(2026, 11, 25, 7, 0), 2.0, "payroll-run"),
        (datetime(2026, 11, 25, 18, 59), 2.0, "payroll-run"),
        (datetime(2026, 11, 25, 19, 0), 0.3, "off-hours"),
        # Christmas Day: bank holiday, business hours suppressed.
        (datetime(2026, 12, 25, 10, 0), 0.3, "public-holiday"),
        (datetime(2026, 11, 12, 7, 59), 0.3, "off-hours"),
        (datetime(2026, 11, 12, 18, 0), 0.3, "off-hours"),
    ],
)
def test_uk_finance_weights_through_the_month(uk_finance, local, weight, period):
    verdict = uk_finance.weight_at(local.replace(tzinfo=LONDON))
    assert (verdict.weight, verdict.period) == (weight, period)


def test_us_sales_imports_its_team_calendar_and_retail_week(us_sales):
    # Monday 16 Nov 2026, 10:00 New York: the weekly pipeline review from the .ics file.
    review = us_sales.weight_at(datetime(2026, 11, 16, 10, 0, tzinfo=NEW_YORK))
    assert (review.weight, review.period) == (2.0, "sales-events")
    # Cyber Monday is in the retail-peak date range, which outranks month end and the review.
    cyber_monday = us_sales.weight_at(datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK))
    assert cyber_monday.period == "retail-peak"
    assert set(cyber_monday.periods) >= {"sales-events", "month-end", "business-hours"}
    # All-day kickoff event, 26-28 Jan 2027.
    kickoff = us_sales.weight_at(datetime(2027, 1, 28, 21, 0, tzinfo=NEW_YORK))
    assert kickoff.period == "sales-events"
    assert us_sales.weight_at(datetime(2027, 1, 29, 21, 0, tzinfo=NEW_YORK)).weight == 0.3


def test_load_calendars_finds_both_demo_calendars():
    calendars = load_calendars(CALENDARS)
    assert {"uk-finance", "us-sales"} <= set(calendars)


def test_cli_explain_prints_local_time_periods_and_weight():
    result = CliRunner().invoke(
        app, ["explain", str(CALENDARS / "uk-finance.yaml"), "--at", "2026-11-30T10:00"]
    )
    assert result.exit_code == 0, result.output
    assert "Monday 2026-11-30 10:00 GMT" in result.output
    assert "month-end-close <- wins" in result.output
    assert "business-hours" in result.output
    assert "weight       3 (month-end-close)" in result.output


def test_cli_explain_reads_offsets_and_resolves_names(monkeypatch):
    monkeypatch.setenv("IMPACTLINE_CALENDARS", str(CALENDARS))
    # 15:00 UTC is 10:00 in New York (EST) on 12 Nov 2026.
    result = CliRunner().invoke(
        app, ["explain", "us-sales", "--at", "2026-11-12T15:00:00+00:00", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"local_time": "2026-11-12T10:00:00-05:00"' in result.output
    assert '"weight": 1.0' in result.output


def test_cli_explain_reports_unknown_calendar_and_bad_time(monkeypatch, tmp_path):
    monkeypatch.setenv("IMPACTLINE_CALENDARS", str(tmp_path))
    missing = CliRunner().invoke(app, ["explain", "no-such-calendar"])
    assert missing.exit_code == 2
    assert "no-such-calendar" in missing.output
    bad_time = CliRunner().invoke(
        app, ["explain", str(CALENDARS / "uk-finance.yaml"), "--at", "next tuesday"]
    )
    assert bad_time.exit_code == 2
    assert "ISO 8601" in bad_time.output


def test_cli_validate_names_the_broken_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("timezone: Europe/London\nbaseline: {weight: -1}\n")
    result = CliRunner().invoke(app, ["validate", str(CALENDARS / "uk-finance.yaml"), str(broken)])
    assert result.exit_code == 2
    assert "ok  uk-finance" in result.output
    assert "broken.yaml" in result.output
    assert "baseline.weight" in result.output
