"""Correlation configuration: durations as people write them, clear errors, documented defaults."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from impactline.core.correlation import (
    CorrelationConfig,
    CorrelationConfigInvalid,
    format_duration,
    parse_duration,
)
from impactline.core.states import State

DOCS = Path(__file__).resolve().parents[2] / "docs" / "correlation.md"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90),
        (1.5, 1.5),
        ("90", 90),
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("1d", 86400),
        ("PT5M", 300),
        ("P1DT2H", 93600),
        ("0", 0),
    ],
)
def test_durations_are_read_as_people_write_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "-5m", "1h-30m", "P", True, [1]])
def test_a_bad_duration_says_which_spellings_work(text: object) -> None:
    with pytest.raises(ValueError, match=r"duration|negative"):
        parse_duration(text)


@given(st.integers(0, 10 * 86400))
def test_formatted_durations_read_back_unchanged(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_a_partial_file_keeps_the_other_defaults() -> None:
    config = CorrelationConfig.from_yaml(
        "damping:\n  confirm_count: 3\nstaleness:\n  by_ci_type: {link: 2m}\n", "c.yaml"
    )
    assert config.damping.confirm_count == 3
    assert config.damping.flap_window == timedelta(minutes=10)
    assert config.staleness.after_for("link") == timedelta(minutes=2)
    assert config.staleness.after_for("database") == timedelta(0)
    assert config.grouping.failing_states == frozenset({State.DEGRADED, State.DOWN})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("damping:\n  confirm_cont: 3\n", "c.yaml: damping.confirm_cont: unknown setting"),
        ("lifecycle:\n  resolve_hold: soon\n", "c.yaml: lifecycle.resolve_hold: 'soon' is not"),
        ("staleness:\n  by_ci_type: {router: 2m}\n", "c.yaml: staleness.by_ci_type.router"),
        ("grouping:\n  failing_states: [ok, down]\n", "`ok` cannot be a failing state"),
        ("damping:\n  confirm_count: 0\n", "damping.confirm_count: Input should be greater"),
        ("damping: [\n", "c.yaml: not valid YAML"),
    ],
)
def test_a_bad_configuration_names_the_file_the_setting_and_the_rule(
    text: str, expected: str
) -> None:
    with pytest.raises(CorrelationConfigInvalid) as caught:
        CorrelationConfig.from_yaml(text, "c.yaml")
    assert expected in str(caught.value)


def test_the_documented_defaults_are_the_real_defaults() -> None:
    section = DOCS.read_text(encoding="utf-8").split("## 5. Configuration", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, "docs/correlation.md lost its defaults block"
    documented = CorrelationConfig.from_yaml(block.group(1), "docs/correlation.md")
    assert documented == CorrelationConfig()
    # and every setting is spelled out there, not left to the defaults
    written = yaml.safe_load(block.group(1))
    for name, section_model in CorrelationConfig().model_dump().items():
        assert set(written[name]) == set(section_model), f"document every {name} setting"
