"""Business service health in the API: the read model projected from the topics and its routes.

The projection keeps its own tables (migration 0005): service-health history and the current
state, impact events, feedback with its sentiment, and the CI state changes correlate accepted.
"""

from __future__ import annotations

import logging

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from impactline.api.health_model.board import HealthModel
from impactline.api.health_model.routes import router
from impactline.api.health_model.store import HealthStore
from impactline.core import topics
from impactline.core.calendar import BusinessCalendar, load_calendars
from impactline.core.impact import load_scoring_config
from impactline.core.scoring import DEFAULT_CONFIG, ScoringConfig
from impactline.runtime.projection import Projection, start_projection
from impactline.runtime.settings import Settings

__all__ = ["HealthModel", "HealthStore", "router", "start_health_model"]

log = logging.getLogger(__name__)

SOURCES = (topics.SERVICE_HEALTH, topics.IMPACT, topics.FEEDBACK, topics.CI_ANNOTATIONS)


def load_configuration(settings: Settings) -> tuple[dict[str, BusinessCalendar], ScoringConfig]:
    """The calendars and scoring configuration the impact worker uses, so both agree."""
    calendars = load_calendars(settings.calendars_dir) if settings.calendars_dir else {}
    scoring = (
        load_scoring_config(settings.scoring_config) if settings.scoring_config else DEFAULT_CONFIG
    )
    return calendars, scoring


async def start_health_model(
    app: FastAPI, settings: Settings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> Projection:
    """Make the health model available to the routes and start projecting into it."""
    store = HealthStore(pool, app.state.clock)
    calendars, scoring = load_configuration(settings)
    app.state.health_model = HealthModel(store, calendars, scoring)
    return await start_projection(
        "service-health",
        settings,
        SOURCES,
        store.project,  # type: ignore[arg-type]
        producer,
        app.state.tasks,
    )
