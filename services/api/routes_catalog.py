"""The catalog as a whole: read the current version, replace it, list the versions."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response

from impactline.api.catalog_cache import CatalogCache, Snapshot
from impactline.api.catalog_upload import (
    documents_from,
    media_type,
    read_body,
    validated_catalog,
)
from impactline.api.responses import (
    READ_ERRORS,
    CatalogChangesOut,
    CatalogOut,
    CatalogPreview,
    CatalogReplaced,
    CatalogUpload,
    CatalogVersionOut,
    VersionList,
    problem,
)
from impactline.api.routes_services import no_catalog
from impactline.core.catalog import Catalog
from impactline.core.catalog.changes import CatalogChanges, changes_between
from impactline.runtime.auth import Principal, require_scope
from impactline.runtime.catalog_publisher import CatalogPublisher
from impactline.runtime.catalog_store import CatalogStore, StoredVersion, stored_documents
from impactline.runtime.problems import Problem

log = logging.getLogger(__name__)
router = APIRouter(tags=["catalog"])
PUBLISH_TIMEOUT_S = 30.0
RETRY_AFTER_S = 5

_UPLOAD_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": CatalogUpload.model_json_schema()},
        "application/yaml": {
            "schema": {
                "type": "string",
                "description": (
                    "One or more YAML catalog documents separated by `---`, named in order by "
                    "the `document` query parameter (default `catalog.yaml`, or "
                    "`document-1.yaml`, `document-2.yaml`, ... for several)."
                ),
            }
        },
    },
}


def _version_out(info: StoredVersion) -> CatalogVersionOut:
    return CatalogVersionOut(
        version=info.version,
        fingerprint=info.fingerprint,
        services=info.services,
        technical_services=info.technical_services,
        cis=info.cis,
        domains=info.domains,
        document_names=list(info.document_names),
        created_at=info.created_at,
        created_by=info.created_by,
    )


@router.get(
    "/v1/catalog",
    summary="The current catalog",
    description="Version, fingerprint, counts and (unless `documents=false`) every document.",
    response_model=CatalogOut,
    responses={**READ_ERRORS, 404: problem("No catalog stored yet")},
)
async def get_catalog(
    request: Request,
    _: Annotated[Principal, Depends(require_scope("read"))],
    documents: Annotated[
        bool, Query(description="Include the documents (large for large catalogs).")
    ] = True,
) -> Response:
    store: CatalogStore = request.app.state.store
    if documents:
        stored = await store.load()
        info, docs = (stored.info, stored.documents) if stored else (None, None)
    else:
        info, docs = await store.head(), None
    if info is None:
        raise no_catalog()
    body = _version_out(info).model_dump(mode="json") | {"documents": docs}
    # Serialised directly: a large catalog is tens of MB, too slow for the generic encoder.
    return Response(orjson.dumps(body), media_type="application/json")


@router.put(
    "/v1/catalog",
    summary="Replace the whole catalog",
    description=(
        "Validates the documents as one catalog and makes them the current catalog in one "
        "transaction, then publishes the new version on the catalog topic for the workers. "
        "Content equal to the current catalog stores nothing and answers the current version "
        "(`changed: false`), so a retried request is safe. The answer lists what the new "
        "version removed and added (`changes`); `POST /v1/catalog/preview` tells that "
        "beforehand, storing nothing. A catalog that would remove every business service is "
        "refused (409) unless `force=true`."
    ),
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        400: problem("The body is not valid JSON or YAML"),
        401: problem("No or invalid API key"),
        403: problem("The key lacks the `admin` scope"),
        413: problem("Body too large"),
        409: problem("The catalog would remove every business service; `force=true` to proceed"),
        415: problem("Neither JSON nor YAML"),
        422: problem("Invalid catalog: `errors` lists each document, path and message"),
        503: problem("Stored but not published; send the same request again"),
    },
)
async def put_catalog(
    request: Request,
    principal: Annotated[Principal, Depends(require_scope("admin"))],
    document: Annotated[
        list[str] | None,
        Query(description="YAML uploads: the name of each document, in order."),
    ] = None,
    force: Annotated[
        bool, Query(description="Store even a catalog that removes every business service.")
    ] = False,
) -> CatalogReplaced:
    catalog, current, changes = await _upload(request, document)
    store: CatalogStore = request.app.state.store
    cache: CatalogCache = request.app.state.catalog
    if changes.removes_every_service and not force:
        raise Problem(
            409,
            "Catalog would remove every service",
            f"the upload holds no business service and would remove all "
            f"{changes.services_before} of version {current.version if current else '?'} "
            f"(and {len(changes.removed_cis)} CIs); nothing was stored. Check the upload, or "
            "send it again with force=true if that is meant",
            kind="catalog-emptied",
            changes=changes.as_dict(),
        )
    before = await store.head_version()
    stored_docs = await asyncio.to_thread(stored_documents, catalog)
    version = await store.replace(catalog, f"api:{principal.key_id}", documents=stored_docs)
    info = await store.info(version)
    assert info is not None, "a version just stored must be readable"
    held = cache.snapshot
    if held is None or held.version < version:
        cache.adopt(await asyncio.to_thread(Snapshot.build, info, catalog))
    await _publish(request.app.state.publisher, version, catalog, stored_docs)
    if version != before:
        log.info(
            "catalog version %d by %s: %d services removed, %d added, %d CIs removed, %d added",
            version,
            principal.key_id,
            len(changes.removed_services),
            len(changes.added_services),
            len(changes.removed_cis),
            len(changes.added_cis),
        )
    return CatalogReplaced(
        **_version_out(info).model_dump(),
        changed=version != before,
        changes=CatalogChangesOut(**changes.as_dict()) if version != before else None,
    )


async def _upload(
    request: Request, names: list[str] | None
) -> tuple[Catalog, Snapshot | None, CatalogChanges]:
    """The uploaded catalog, validated, with the current one and what would change."""
    body = await read_body(request)
    documents = documents_from(body, media_type(request), names or [])
    catalog = await validated_catalog(documents)
    cache: CatalogCache = request.app.state.catalog
    current = await cache.get()
    return catalog, current, changes_between(current.catalog if current else None, catalog)


@router.post(
    "/v1/catalog/preview",
    summary="What a catalog upload would change, storing nothing",
    description=(
        "Takes the same body as `PUT /v1/catalog`, validates it and answers what the new "
        "version would remove and add against the current one. Nothing is stored or published."
    ),
    openapi_extra={"requestBody": _UPLOAD_BODY},
    responses={
        400: problem("The body is not valid JSON or YAML"),
        401: problem("No or invalid API key"),
        403: problem("The key lacks the `admin` scope"),
        413: problem("Body too large"),
        415: problem("Neither JSON nor YAML"),
        422: problem("Invalid catalog: `errors` lists each document, path and message"),
    },
)
async def preview_catalog(
    request: Request,
    _: Annotated[Principal, Depends(require_scope("admin"))],
    document: Annotated[
        list[str] | None,
        Query(description="YAML uploads: the name of each document, in order."),
    ] = None,
) -> CatalogPreview:
    catalog, current, changes = await _upload(request, document)
    return CatalogPreview(
        current_version=current.version if current else None,
        services=len(catalog.services),
        cis=len(catalog.cis),
        changes=CatalogChangesOut(**changes.as_dict()),
    )


async def _publish(
    publisher: CatalogPublisher, version: int, catalog: Catalog, documents: dict[str, Any]
) -> None:
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            await publisher.publish(version, catalog, documents)
    except Exception as exc:
        log.exception("catalog version %d stored but not published", version)
        raise Problem(
            503,
            "Catalog not published",
            f"the catalog was stored as version {version} but could not be published to the "
            f"workers ({type(exc).__name__}: {exc}); send the same request again: equal "
            "content is not stored twice and is published again",
            kind="unavailable",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            version=version,
        ) from None


@router.get(
    "/v1/catalog/versions",
    summary="Stored catalog versions, newest first",
    responses=READ_ERRORS,
)
async def list_versions(
    request: Request,
    _: Annotated[Principal, Depends(require_scope("read"))],
    limit: Annotated[int, Query(ge=1, le=1000, description="How many versions.")] = 20,
) -> VersionList:
    store: CatalogStore = request.app.state.store
    return VersionList(items=[_version_out(v) for v in await store.versions(limit)])
