"""The README shows what `make run` prints and publishes: those lines and that event are produced
here by the same code (the scenario, the processors, the printer) on the day they were taken."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from rich.text import Text

from impactline.cli.run import format_impact
from impactline.core.contracts import ImpactEvent, ImpactReason
from tests.time_scenarios import play_demo

README = (Path(__file__).parents[2] / "README.md").read_text()
TAKEN_ON = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def financial_close() -> list[ImpactEvent]:
    return [
        o.event
        for o in play_demo(TAKEN_ON)
        if o.topic.name == "impact.all"
        and isinstance(o.event, ImpactEvent)
        and o.event.service_id == "financial-close"
    ]


def test_the_printed_lines_are_what_make_run_prints() -> None:
    shown = [line for line in README.splitlines() if line.startswith("impact financial-close ")]
    printed = [Text.from_markup(format_impact(event)).plain for event in financial_close()]
    assert shown == printed


def test_the_event_in_full_is_the_month_end_impact_event() -> None:
    block = re.search(r"```json\n(\{.*?\n\})\n```", README, re.S)
    assert block is not None
    shown = json.loads(block.group(1))
    month_end = [
        e
        for e in financial_close()
        if e.reason is ImpactReason.STATE_CHANGE and e.calendar and e.calendar.weight == 3
    ]
    assert shown == json.loads(month_end[0].model_dump_json())
