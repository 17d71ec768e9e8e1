"""Routing rules and configuration files of the impact engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from impactline.core.contracts import ImpactEvent, Weighting
from impactline.core.impact import (
    RoutingError,
    RoutingRules,
    load_routing_rules,
    load_scoring_config,
)
from impactline.core.scoring import DEFAULT_CONFIG, ScoringConfigError
from impactline.core.states import State

ROOT = Path(__file__).resolve().parents[2]


def impact(**overrides: Any) -> ImpactEvent:
    fields: dict[str, Any] = {
        "id": "impact-1",
        "service_id": "payroll",
        "service_name": "Payroll",
        "business_domain": "people",
        "correlation_domain": "london-core",
        "state": State.DEGRADED,
        "time": datetime(2026, 11, 25, 10, tzinfo=UTC),
        "cause_ci_id": "db-hr-01",
        "cause_event_id": "telemetry-1",
        "users_affected": 40,
        "tier": 2,
        "weighting": Weighting.UNWEIGHTED,
        "impact_rate": 24.0,
        "business_impact_minutes": 0.0,
        "priority": "P3",
        "catalog_version": 1,
    }
    fields.update(overrides)
    return ImpactEvent(**fields)


def rules(*entries: dict[str, Any]) -> RoutingRules:
    return RoutingRules.from_mapping({"rules": list(entries)})


def test_every_event_goes_to_impact_all_and_its_business_domain_topic():
    assert RoutingRules().topics_for(impact()) == ("impact.all", "impact.people")


def test_high_visibility_events_also_go_to_the_exec_topic():
    routing = rules({"name": "exec", "topics": ["impact.exec"], "match": {"high_visibility": True}})
    assert routing.topics_for(impact(high_visibility=True))[-1] == "impact.exec"
    assert "impact.exec" not in routing.topics_for(impact(high_visibility=False))


@pytest.mark.parametrize(
    ("priority", "routed"), [("P1", True), ("P2", True), ("P3", False), (None, False)]
)
def test_min_priority_selects_that_priority_and_more_urgent_ones(
    priority: str | None, routed: bool
):
    routing = rules({"name": "major", "topics": ["impact.major"], "match": {"min_priority": "P2"}})
    assert ("impact.major" in routing.topics_for(impact(priority=priority))) is routed


def test_every_condition_of_a_match_must_hold():
    routing = rules(
        {
            "name": "people-critical",
            "topics": ["impact.people-critical"],
            "match": {"business_domains": ["people"], "services": ["pay*"], "tiers": [1, 2]},
        }
    )
    assert "impact.people-critical" in routing.topics_for(impact())
    assert "impact.people-critical" not in routing.topics_for(impact(service_id="recruiting"))
    assert "impact.people-critical" not in routing.topics_for(impact(tier=3))
    assert "impact.people-critical" not in routing.topics_for(impact(business_domain="finance"))


def test_topics_are_listed_once_in_rule_order():
    routing = rules(
        {"name": "a", "topics": ["impact.x", "impact.all"]},
        {"name": "b", "topics": ["impact.y", "impact.x"]},
    )
    assert routing.topics_for(impact()) == ("impact.all", "impact.people", "impact.x", "impact.y")


def test_a_bad_rule_is_reported_with_its_path():
    with pytest.raises(RoutingError) as caught:
        RoutingRules.from_mapping(
            {"rules": [{"name": "x", "topics": ["impact exec"], "match": {"tiers": [7]}}]},
            "routing.yaml",
        )
    message = str(caught.value)
    assert message.startswith("routing.yaml: ")
    assert "rules[0].topics[0]" in message
    assert "rules[0].match.tiers[0]" in message


def test_rule_names_must_be_unique():
    with pytest.raises(RoutingError, match="repeated: exec"):
        rules({"name": "exec", "topics": ["impact.a"]}, {"name": "exec", "topics": ["impact.b"]})


def test_the_demo_configuration_files_load():
    routing = load_routing_rules(ROOT / "deploy" / "impact" / "routing.yaml")
    assert "impact.exec" in routing.topics_for(impact(high_visibility=True))
    assert load_scoring_config(ROOT / "deploy" / "impact" / "scoring.yaml") == DEFAULT_CONFIG


def test_configuration_files_that_cannot_be_used_are_named(tmp_path: Path):
    broken = tmp_path / "routing.yaml"
    broken.write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RoutingError, match=r"routing\.yaml: not valid YAML at line 2"):
        load_routing_rules(broken)
    listed = tmp_path / "scoring.yaml"
    listed.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ScoringConfigError, match=r"scoring\.yaml: expected a mapping"):
        load_scoring_config(listed)
    with pytest.raises(RoutingError, match="cannot read the file"):
        load_routing_rules(tmp_path / "missing.yaml")
