"""Business services as users know them: the catalog view, the portfolio, one service in full."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response

from impactline.api import service_views
from impactline.api.catalog_cache import CatalogCache, Snapshot
from impactline.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, page_after
from impactline.api.responses import READ_ERRORS, ServiceDetail, ServicePage, problem
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.problems import Problem

router = APIRouter(tags=["services"])
Reader = Annotated[Principal, Depends(require_scope("read"))]


class View(StrEnum):
    CATALOG = "catalog"
    PORTFOLIO = "portfolio"


def no_catalog() -> Problem:
    return Problem(
        404,
        "No catalog",
        "no catalog has been stored yet; load one with `impactline catalog load FILES...` "
        "or PUT /v1/catalog",
        kind="no-catalog",
    )


async def current_snapshot(request: Request) -> Snapshot:
    cache: CatalogCache = request.app.state.catalog
    snapshot = await cache.get()
    if snapshot is None:
        raise no_catalog()
    return snapshot


@router.get(
    "/v1/services",
    summary="List business services",
    description=(
        "`view=catalog` (default) lists the active, user-facing services users see; "
        "`view=portfolio` lists every service whatever its lifecycle (pipeline, active, retired). "
        'Sorted by id. Follow `next` (also sent as a `Link: <...>; rel="next"` header) '
        "for the following page."
    ),
    responses={**READ_ERRORS, 404: problem("No catalog stored yet")},
)
async def list_services(
    request: Request,
    response: Response,
    _: Reader,
    view: Annotated[View, Query(description="`catalog` or `portfolio`.")] = View.CATALOG,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Services per page.")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(description="Opaque position from the previous page's `next`; omit to start."),
    ] = None,
) -> ServicePage:
    snapshot = await current_snapshot(request)
    ids, services = snapshot.views[view.value]
    page = page_after(ids, services, cursor, limit)
    next_url = None
    if page.next_cursor is not None:
        query = urlencode({"view": view.value, "limit": limit, "cursor": page.next_cursor})
        next_url = f"{request.url.path}?{query}"
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return ServicePage(
        catalog_version=snapshot.version,
        view=view.value,
        total=len(services),
        items=[service_views.summary(snapshot.catalog, s) for s in page.items],
        next=next_url,
    )


@router.get(
    "/v1/services/{service_id}",
    summary="One business service in full",
    description=(
        "Owner, tier, users, personas, calendar, targets, the technical services and CIs it "
        "depends on (directly or through others) and its correlation domain. Every service of "
        "the portfolio can be asked for, whatever its lifecycle."
    ),
    responses={**READ_ERRORS, 404: problem("No such service, or no catalog stored yet")},
)
async def get_service(request: Request, service_id: str, _: Reader) -> ServiceDetail:
    snapshot = await current_snapshot(request)
    service = snapshot.catalog.services.get(service_id)
    if service is None:
        raise Problem(
            404,
            "Unknown service",
            f"catalog version {snapshot.version} has no business service {service_id!r}; "
            "GET /v1/services?view=portfolio lists every one",
            kind="unknown-service",
        )
    return service_views.detail(snapshot.catalog, snapshot.version, service)
