"""All scoring knobs in one validated document, with defaults for every one of them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from impactline.core.calendar.errors import dotted_path
from impactline.core.scoring.error_budget import (
    DEFAULT_BURN_RATE_RULES,
    AlertSeverity,
    BurnRateRule,
)
from impactline.core.scoring.impact import ImpactFactors
from impactline.core.scoring.priority import PriorityPolicy
from impactline.core.scoring.xla import XlaWeights


class ScoringConfigError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(problems))


class BurnRateRuleSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    long_window: timedelta
    short_window: timedelta
    factor: float = Field(gt=0)
    severity: AlertSeverity

    def rule(self) -> BurnRateRule:
        return BurnRateRule(self.long_window, self.short_window, self.factor, self.severity)


def _default_rules() -> tuple[BurnRateRuleSetting, ...]:
    return tuple(
        BurnRateRuleSetting(
            long_window=rule.long_window,
            short_window=rule.short_window,
            factor=rule.factor,
            severity=rule.severity,
        )
        for rule in DEFAULT_BURN_RATE_RULES
    )


class ScoringConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    factors: ImpactFactors = Field(default_factory=ImpactFactors)
    priority: PriorityPolicy = Field(default_factory=PriorityPolicy)
    xla: XlaWeights = Field(default_factory=XlaWeights)
    burn_rate_rules: tuple[BurnRateRuleSetting, ...] = Field(
        default_factory=_default_rules, min_length=1
    )

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None, source: str = "scoring configuration"
    ) -> ScoringConfig:
        """Validate a parsed YAML mapping; errors name `source`, the path and the expectation."""
        try:
            return cls.model_validate(dict(mapping or {}))
        except ValidationError as error:
            problems = [
                f"{dotted_path(detail['loc'])}: {detail['msg'].removeprefix('Value error, ')}"
                for detail in error.errors(include_url=False)
            ]
            raise ScoringConfigError(source, problems) from None

    def rules(self) -> tuple[BurnRateRule, ...]:
        return tuple(setting.rule() for setting in self.burn_rate_rules)


DEFAULT_CONFIG = ScoringConfig()
