"""Liveness and readiness, for orchestrators and load balancers (no API key needed)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from impactline.api.responses import Health, Readiness, problem
from impactline.runtime.catalog_store import CatalogStore
from impactline.runtime.problems import Problem
from impactline.runtime.tasks import tasks_ready

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Readiness: the database answers and every background task runs",
    responses={503: problem("The database is not reachable or a background task is down")},
)
async def readyz(request: Request) -> Readiness:
    store: CatalogStore = request.app.state.store
    report = tasks_ready(request.app.state)
    try:
        version = await store.head_version()
    except Exception as exc:
        raise Problem(
            503,
            "Not ready",
            f"the database is not reachable ({type(exc).__name__})",
            headers={"Retry-After": "5"},
        ) from None
    return Readiness(status="ready", catalog_version=version, tasks=report)
