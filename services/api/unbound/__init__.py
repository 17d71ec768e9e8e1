"""Unbound events in the API: the read model projected from the `unbound` topic and its routes."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from impactline.api.unbound.routes import router
from impactline.api.unbound.store import UnboundStore
from impactline.core import topics
from impactline.runtime.projection import Projection, start_projection
from impactline.runtime.settings import Settings

__all__ = ["UnboundStore", "router", "start_unbound"]


async def start_unbound(
    app: FastAPI, settings: Settings, pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> Projection:
    """Make the unbound store available to the routes and start projecting into it."""
    store = UnboundStore(pool)
    app.state.unbound_store = store
    return await start_projection(
        "unbound",
        settings,
        [topics.UNBOUND],
        store.project,  # type: ignore[arg-type]
        producer,
        app.state.tasks,
    )
