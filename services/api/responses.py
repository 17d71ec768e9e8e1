"""Typed bodies of the query API, so the OpenAPI document says exactly what each route returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from impactline.core.catalog import CIType, Lifecycle, Persona, VipUser
from impactline.core.catalog.model import (
    Approval,
    BusinessValue,
    Costs,
    Dependency,
    Eligibility,
    RequestMethod,
    Support,
    Targets,
)
from impactline.core.values import ID_PATTERN, iso_query_time, printable_id

# A time in a query parameter: ISO 8601 date and time (an offset, or UTC); no epoch numbers.
QueryTime = Annotated[
    datetime,
    BeforeValidator(iso_query_time),
    Field(json_schema_extra={"format": "date-time"}),
]


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True)


class ServiceSummary(_Body):
    """One business service in a list."""

    id: str
    name: str
    description: str
    owner: str
    tier: int = Field(ge=1, le=4, description="1 is the most critical.")
    lifecycle: Lifecycle
    user_facing: bool
    users: int = Field(ge=0)
    business_domain: str = Field(description="Routes impact events to `impact.<domain>`.")
    correlation_domain: str | None = Field(
        description=(
            "Connected component of the dependency graph the service is correlated in; "
            "null for pipeline and retired services, which are not in the graph."
        )
    )
    calendar: str | None = Field(description="Business calendar weighting its impact.")


class ServicePage(_Body):
    """One page of a service list."""

    catalog_version: int
    view: str = Field(description="`catalog` (active, user-facing) or `portfolio` (all).")
    total: int = Field(description="Services in the whole view, not only on this page.")
    items: list[ServiceSummary]
    next: str | None = Field(description="URL of the next page; null on the last page.")


class NodeRef(_Body):
    """A catalog entry a service depends on."""

    id: str
    name: str | None
    owner: str
    type: CIType | None = Field(default=None, description="Set for CIs only.")
    direct: bool = Field(description="Named in the service's own dependencies.")


class DependsOn(_Body):
    """Everything the service needs, directly or through other entries."""

    business_services: list[NodeRef]
    technical_services: list[NodeRef]
    cis: list[NodeRef]


class DefinedIn(_Body):
    document: str
    path: str


class ServiceDetail(ServiceSummary):
    """A business service with everything the catalog says about it."""

    catalog_version: int
    support: Support | None
    personas: list[Persona]
    vip_users: list[VipUser] = Field(
        description="High-visibility users, each tied to a persona or (without) to the service."
    )
    targets: Targets | None
    request_methods: list[RequestMethod]
    costs: Costs | None
    business_value: BusinessValue | None
    approval: Approval | None
    eligibility: Eligibility | None
    dependencies: list[Dependency] = Field(description="As declared, with their rules.")
    depends_on: DependsOn
    defined_in: DefinedIn


class CatalogVersionOut(_Body):
    """A stored catalog version."""

    version: int
    fingerprint: str = Field(description="Content hash; equal content has an equal fingerprint.")
    services: int
    technical_services: int
    cis: int
    domains: int = Field(description="Correlation domains of the dependency graph.")
    document_names: list[str]
    created_at: datetime
    created_by: str


class CatalogChangesOut(_Body):
    """What a version changes against the one before it (ids: at most 100 of each kind)."""

    services_before: int
    services_after: int
    removed_services: int
    added_services: int
    removed_cis: int
    added_cis: int
    removed_service_ids: list[str]
    added_service_ids: list[str]
    removed_ci_ids: list[str]
    added_ci_ids: list[str]


class CatalogReplaced(CatalogVersionOut):
    changed: bool = Field(
        description="False when the content equalled the current catalog: nothing was stored."
    )
    changes: CatalogChangesOut | None = Field(
        default=None, description="What this version removed and added against the previous."
    )


class CatalogPreview(_Body):
    """A dry run: what the upload would change; nothing was stored or published."""

    dry_run: bool = True
    current_version: int | None
    services: int
    cis: int
    changes: CatalogChangesOut


class CatalogOut(CatalogVersionOut):
    documents: dict[str, Any] | None = Field(
        description="Document name -> content; null when `documents=false` was asked."
    )


class VersionList(_Body):
    items: list[CatalogVersionOut]


DocumentName = Annotated[
    str,
    Field(min_length=1, max_length=200, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(printable_id),
]


class CatalogUpload(BaseModel):
    """The whole catalog: every document, each the parsed content of one catalog file."""

    model_config = ConfigDict(extra="forbid")

    documents: dict[DocumentName, Any] = Field(
        min_length=1,
        description='Document name (e.g. "finance.yaml") -> its content as a JSON object.',
    )


class Health(_Body):
    status: str


class Readiness(_Body):
    status: str
    catalog_version: int | None = Field(description="Null until a catalog is stored.")
    tasks: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Background task -> `state` (running, restarting, failed), `failures` "
        "since start and the `last_error`.",
    )


class ProblemDocument(BaseModel):
    """RFC 9457 problem details, sent as `application/problem+json` with every error."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What went wrong and what to do about it.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[dict[str, Any]] | None = Field(
        default=None,
        description=(
            "Invalid parameters (`pointer`, `field`, `detail`) or, for an invalid catalog, "
            "every broken rule (`document`, `path`, `message`)."
        ),
    )


def problem(description: str) -> dict[str, Any]:
    """An error answer for the `responses` of a route."""
    return {"model": ProblemDocument, "description": description}


READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: problem("No or invalid API key"),
    403: problem("The key lacks the `read` scope"),
    422: problem("A parameter is invalid; `errors` names it"),
}
"""Documented error answers of every read route."""
