"""What the live system scores with, gathered once: the inputs of a what-if.

A `WhatIfModel` holds the catalog, calendars, scoring, routing, correlation rules and time
settings the stream workers run with, and builds the same pure processors they run
(`Pipeline`: correlation then impact, each behind an event clock). Simulations drive those
processors; nothing here scores on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from impactline.core.calendar import BusinessCalendar
from impactline.core.catalog import Catalog
from impactline.core.correlation import CorrelationConfig, CorrelationContext, Suppressions
from impactline.core.correlation.processor import CorrelationProcessor
from impactline.core.eventtime import TimePolicy
from impactline.core.experience import ExperiencePolicy
from impactline.core.impact import DEFAULT_ROUTING, ImpactEngine, RoutingRules
from impactline.core.impact.processor import ImpactProcessor
from impactline.core.pipeline import Pipeline
from impactline.core.scoring import DEFAULT_CONFIG, ScoringConfig

DEFAULT_ACCRUAL = timedelta(seconds=60)
DEFAULT_XLA_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class WhatIfModel:
    catalog: Catalog
    calendars: Mapping[str, BusinessCalendar]
    scoring: ScoringConfig = DEFAULT_CONFIG
    routing: RoutingRules = DEFAULT_ROUTING
    correlation: CorrelationConfig = field(default_factory=CorrelationConfig)
    suppressions: Suppressions = field(default_factory=Suppressions)
    experience: ExperiencePolicy | None = None
    accrual_period: timedelta = DEFAULT_ACCRUAL
    xla_every: timedelta = DEFAULT_XLA_EVERY
    time_policy: TimePolicy = field(default_factory=TimePolicy)
    catalog_version: int = 0

    def engine(self) -> ImpactEngine:
        return ImpactEngine(
            self.catalog,
            self.calendars,
            self.scoring,
            self.routing,
            catalog_version=self.catalog_version,
            accrual_period=self.accrual_period,
        )

    def experience_policy(self) -> ExperiencePolicy:
        if self.experience is not None:
            return self.experience
        return ExperiencePolicy(rules=self.scoring.rules(), weights=self.scoring.xla)

    def pipeline(self) -> Pipeline:
        """A fresh pipeline: the processors a stream worker runs for one partition."""
        context = CorrelationContext(
            self.catalog.graph,
            self.correlation,
            self.suppressions,
            catalog_version=self.catalog_version,
        )
        return Pipeline(
            CorrelationProcessor(context),
            ImpactProcessor(self.engine(), self.experience_policy(), self.xla_every),
            self.time_policy,
        )
