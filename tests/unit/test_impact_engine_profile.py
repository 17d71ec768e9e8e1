"""From catalog business services to the scoring profile the impact engine uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from impactline.core.catalog import Catalog, load_catalog
from impactline.core.impact import profile_for
from impactline.core.scoring import StakeholderType

ROOT = Path(__file__).resolve().parents[2]


def service(**overrides: Any):
    entry = {
        "id": "intranet",
        "name": "Intranet",
        "owner": "Internal Comms",
        "tier": 4,
        "users": 900,
        "domain": "workplace",
        "dependencies": [{"to": "web-01"}],
    }
    entry.update(overrides)
    cis = [{"id": "web-01", "type": "host", "owner": "Platform Team"}]
    catalog = Catalog.from_documents([("t.yaml", {"services": [entry], "cis": cis})])
    return catalog.services["intranet"]


def test_financial_close_keeps_its_personas_vips_and_targets():
    close = load_catalog([ROOT / "deploy" / "catalog"]).services["financial-close"]
    profile = profile_for(close)
    assert (profile.id, profile.tier, profile.users) == ("financial-close", 1, 126)
    assert [(p.name, p.stakeholder, p.users, p.weight) for p in profile.personas] == [
        ("Finance operations", StakeholderType.SERVICE_EVALUATOR, 86, 1.0),
        ("Financial controllers", StakeholderType.SERVICE_INFLUENCER, 25, 1.5),
        ("Budget holders", StakeholderType.RESOURCE_ALLOCATOR, 9, 2.0),
        ("CFO office", StakeholderType.EXPERIENCE_APPROVER, 6, 3.0),
    ]
    assert profile.vip_users[0].user == "cfo@larkspur-trading.example"
    # availability 99.9 % -> 0.999; a p95 latency goal -> 95 % of requests within it
    assert profile.slo_target == pytest.approx(0.999)
    assert profile.latency_target == 0.95
    assert (profile.xla_target, profile.impact_budget_minutes) == (80, 2400)


def test_a_service_without_targets_gets_the_scoring_defaults():
    profile = profile_for(service())
    assert (profile.slo_target, profile.latency_target, profile.xla_target) == (0.999, None, 80)
    assert profile.personas == ()


def test_targets_the_scoring_rules_cannot_take_are_brought_into_range():
    profile = profile_for(
        service(targets={"availability": 100, "xla": 70, "impact_minutes_budget": 0})
    )
    # a 100 % objective leaves no error budget to divide by; 0 minutes none to measure against
    assert profile.slo_target == 0.99999
    assert profile.impact_budget_minutes == 1.0
