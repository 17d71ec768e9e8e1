"""Incidents in the API: the read model projected from the topics, its routes and commands."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from impactline.api.incidents.routes import router
from impactline.api.incidents.store import IncidentStore
from impactline.core import topics
from impactline.runtime.projection import Projection, start_projection
from impactline.runtime.settings import Settings

__all__ = ["IncidentStore", "router", "start_incidents"]


async def start_incidents(
    app: FastAPI, settings: Settings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> Projection:
    """Make the incident store available to the routes and start projecting into it."""
    store = IncidentStore(pool)
    app.state.incident_store = store
    return await start_projection(
        "incidents",
        settings,
        [topics.INCIDENTS, topics.CI_ANNOTATIONS, topics.IMPACT],
        store.project,  # type: ignore[arg-type]
        producer,
        app.state.tasks,
    )
