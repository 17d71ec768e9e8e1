"""Calendar files that are wrong say which file, where in it, and what was expected."""

from pathlib import Path

import pytest

from impactline.core.calendar import BusinessCalendar, CalendarError, load_calendar

BASE = {"timezone": "Europe/London", "baseline": {"name": "off-hours", "weight": 0.3}}


def problem_text(document: dict) -> str:
    with pytest.raises(CalendarError) as caught:
        BusinessCalendar.from_document("finance", document)
    return str(caught.value)


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({**BASE, "colour": "blue"}, "colour", "unknown key"),
        ({"timezone": "Europe/London"}, "baseline", "required key is missing"),
        ({**BASE, "timezone": "Europe/Londn"}, "timezone", "IANA name"),
        (
            {
                **BASE,
                "periods": [{"name": "close", "weight": -1, "month_end": {"business_days": 3}}],
            },
            "periods[0].weight",
            "greater than or equal to 0",
        ),
        (
            {**BASE, "periods": [{"name": "close", "weight": 3}]},
            "periods[0]",
            "expected exactly one rule",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "close",
                        "weight": 3,
                        "month_end": {"business_days": 3},
                        "month_start": {"business_days": 1},
                    }
                ],
            },
            "periods[0]",
            "found month_end, month_start",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "hours",
                        "weight": 1,
                        "weekly": [{"days": ["mon"], "from": "8am", "to": "18:00"}],
                    }
                ],
            },
            "periods[0].weekly[0].from",
            "HH:MM",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "hours",
                        "weight": 1,
                        "weekly": [{"days": ["monday"], "from": "08:00", "to": "18:00"}],
                    }
                ],
            },
            "periods[0].weekly[0].days[0]",
            "'mon'",
        ),
        (
            {
                **BASE,
                "periods": [{"name": "Month End", "weight": 1, "month_end": {"business_days": 1}}],
            },
            "periods[0].name",
            "lower-case name",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "job",
                        "weight": 1,
                        "rrule": {
                            "rule": "FREQ=SOMETIMES",
                            "start": "2026-01-01T00:00:00",
                            "duration": "PT1H",
                        },
                    }
                ],
            },
            "periods[0].rrule.rule",
            "RFC 5545",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "job",
                        "weight": 1,
                        "rrule": {
                            "rule": "FREQ=DAILY",
                            "start": "2026-01-01T00:00:00",
                            "duration": "8 hours",
                        },
                    }
                ],
            },
            "periods[0].rrule.duration",
            "ISO 8601 duration",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "freeze",
                        "weight": 2,
                        "dates": [{"start": "2026-13-01", "end": "2026-12-01"}],
                    }
                ],
            },
            "periods[0].dates[0].start",
            "expected a date",
        ),
        (
            {
                **BASE,
                "periods": [
                    {
                        "name": "freeze",
                        "weight": 2,
                        "dates": [{"start": "2026-12-02", "end": "2026-12-01"}],
                    }
                ],
            },
            "periods[0].dates[0]",
            "before start",
        ),
        ({**BASE, "holidays": {"country": "XX", "weight": 0.1}}, "holidays.country", "ISO 3166"),
        ({**BASE, "holidays": {"weight": 0.1}}, "holidays", "expected a `country`"),
        (
            {
                **BASE,
                "periods": [
                    {"name": "off-hours", "weight": 1, "month_end": {"business_days": 1}},
                ],
            },
            "periods[0].name",
            "already used by baseline",
        ),
        ({**BASE, "name": "payroll"}, "name", "expected 'finance'"),
    ],
)
def test_problem_names_the_path_and_the_expectation(document: dict, path: str, expected: str):
    text = problem_text(document)
    assert text.startswith("finance: ")
    assert f"{path}:" in text or f"{path} " in text
    assert expected in text


def test_every_problem_is_reported_at_once():
    text = problem_text(
        {
            "timezone": "Europe/London",
            "baseline": {"weight": "heavy"},
            "periods": [{"name": "close", "weight": 3, "month_end": {"business_days": 0}}],
        }
    )
    assert "2 problems" in text
    assert "baseline.weight" in text
    assert "periods[0].month_end.business_days" in text


def test_file_errors_name_the_file(tmp_path: Path):
    broken = tmp_path / "finance.yaml"
    broken.write_text("timezone: Europe/London\nbaseline: {weight: 0.3\n", encoding="utf-8")
    with pytest.raises(CalendarError) as caught:
        load_calendar(broken)
    assert str(broken) in str(caught.value)
    assert "not valid YAML" in str(caught.value)
    assert "line 3" in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path):
    with pytest.raises(CalendarError, match=r"absent\.yaml: cannot read"):
        load_calendar(tmp_path / "absent.yaml")


def test_unquoted_yaml_clock_times_are_understood(tmp_path: Path):
    # YAML 1.1 reads 18:00 as the integer 1080; the calendar reads it back as a clock.
    path = tmp_path / "hours.yaml"
    path.write_text(
        "timezone: Europe/London\n"
        "baseline: {weight: 0.3}\n"
        "periods:\n"
        "  - name: business-hours\n"
        "    weight: 1\n"
        "    weekly: [{days: [mon], from: 09:30, to: 18:00}]\n",
        encoding="utf-8",
    )
    calendar = load_calendar(path)
    assert calendar.periods[0].rule.describe() == "weekly mon 09:30-18:00"
