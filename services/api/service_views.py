"""What the API shows of a business service, computed from one catalog. Pure: no I/O."""

from __future__ import annotations

from impactline.api.responses import DefinedIn, DependsOn, NodeRef, ServiceDetail, ServiceSummary
from impactline.core.catalog import (
    BusinessService,
    Catalog,
    ConfigurationItem,
    Lifecycle,
    NodeKind,
    Requires,
)
from impactline.core.catalog.model import Node


def correlation_domain(catalog: Catalog, service: BusinessService) -> str | None:
    # Only active services are in the dependency graph; the others are never correlated.
    if service.lifecycle is not Lifecycle.ACTIVE:
        return None
    return catalog.graph.domain_of(service.id)


def summary(catalog: Catalog, service: BusinessService) -> ServiceSummary:
    return ServiceSummary(
        id=service.id,
        name=service.name,
        description=service.description,
        owner=service.owner,
        tier=service.tier,
        lifecycle=service.lifecycle,
        user_facing=service.user_facing,
        users=service.users,
        business_domain=service.domain,
        correlation_domain=correlation_domain(catalog, service),
        calendar=service.calendar,
    )


def detail(catalog: Catalog, version: int, service: BusinessService) -> ServiceDetail:
    document, path = catalog.location_of(service.id)
    return ServiceDetail(
        **summary(catalog, service).model_dump(),
        catalog_version=version,
        support=service.support,
        personas=list(service.personas),
        vip_users=list(service.vip_users),
        targets=service.targets,
        request_methods=list(service.request_methods),
        costs=service.costs,
        business_value=service.business_value,
        approval=service.approval,
        eligibility=service.eligibility,
        dependencies=list(service.dependencies),
        depends_on=depends_on(catalog, service.id),
        defined_in=DefinedIn(document=document, path=path),
    )


def _needs(node: Node) -> list[str]:
    out: list[str] = []
    for dep in node.dependencies:
        if isinstance(dep, Requires):
            out.append(dep.to)
        else:
            out.extend(dep.members)
    return out


def depends_on(catalog: Catalog, node_id: str) -> DependsOn:
    """Every entry `node_id` needs, directly or transitively, grouped by kind and sorted by id.

    Walks the declared dependencies rather than the graph, so pipeline and retired services
    (which are not in the graph) show what they would need too.
    """
    direct = set(_needs(catalog.node(node_id)))
    seen: set[str] = set()
    stack = list(direct)
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(_needs(catalog.node(current)))
    seen.discard(node_id)
    groups: dict[NodeKind, list[NodeRef]] = {kind: [] for kind in NodeKind}
    for other in sorted(seen):
        node = catalog.node(other)
        groups[catalog.kind_of(other)].append(
            NodeRef(
                id=other,
                name=node.name,
                owner=node.owner,
                type=node.type if isinstance(node, ConfigurationItem) else None,
                direct=other in direct,
            )
        )
    return DependsOn(
        business_services=groups[NodeKind.BUSINESS_SERVICE],
        technical_services=groups[NodeKind.TECHNICAL_SERVICE],
        cis=groups[NodeKind.CI],
    )
