"""The what-if model built from the process settings: the catalog given, and the calendars,
scoring, routing, correlation rules and time settings the stream workers load."""

from __future__ import annotations

from datetime import timedelta

from impactline.core.calendar import load_calendars
from impactline.core.catalog import Catalog
from impactline.core.impact import DEFAULT_ROUTING, load_routing_rules, load_scoring_config
from impactline.core.scoring import DEFAULT_CONFIG
from impactline.core.whatif import WhatIfModel
from impactline.correlate.app import load_rules
from impactline.impact.app import experience_policy
from impactline.runtime.settings import Settings


def whatif_model(settings: Settings, catalog: Catalog, catalog_version: int = 0) -> WhatIfModel:
    scoring = (
        load_scoring_config(settings.scoring_config) if settings.scoring_config else DEFAULT_CONFIG
    )
    correlation, suppressions = load_rules(settings)
    return WhatIfModel(
        catalog=catalog,
        calendars=load_calendars(settings.calendars_dir) if settings.calendars_dir else {},
        scoring=scoring,
        routing=(
            load_routing_rules(settings.impact_routing)
            if settings.impact_routing
            else DEFAULT_ROUTING
        ),
        correlation=correlation,
        suppressions=suppressions,
        experience=experience_policy(settings, scoring),
        accrual_period=timedelta(seconds=settings.accrual_seconds),
        xla_every=timedelta(seconds=settings.xla_seconds),
        time_policy=settings.time_policy(),
        catalog_version=catalog_version,
    )
