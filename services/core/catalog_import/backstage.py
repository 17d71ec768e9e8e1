"""Backstage catalog entities (descriptor format) -> one catalog document.

| Backstage            | catalog                                                                |
|----------------------|------------------------------------------------------------------------|
| System               | business service; its components and resources (`spec.system`) are    |
|                      | its required dependencies; `spec.domain` is its business domain        |
| Component            | CI (`app`); `spec.dependsOn` and the providers of `spec.consumesApis`   |
|                      | are its dependencies; libraries and documentation are left out          |
| Resource             | CI typed from `spec.type` (database, queue, storage, dns, ...)          |
| API                  | no entry: consuming an API is a dependency on the component providing it|
| Group, User          | no entry: the display name becomes the owner of what they own          |
| Domain               | no entry: the business domain of its systems                           |
| annotations          | kept in the CI's attributes; `backstage.io/kubernetes-id` (and         |
|                      | `-namespace`) becomes an alias `namespace/id`, which binding rules use  |

Tiers, user counts, personas and calendars are not in Backstage: business services get
placeholders and the report lists them for a person to supply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from impactline.core.catalog_import.common import (
    PLACEHOLDER_TIER,
    PLACEHOLDER_USERS,
    SUPPLY_SERVICE,
    UNASSIGNED,
    Ids,
    break_cycles,
    dedupe_aliases,
)
from impactline.core.catalog_import.report import ImportReport

SOURCE = "Backstage"
K8S_ID = "backstage.io/kubernetes-id"
K8S_NAMESPACE = "backstage.io/kubernetes-namespace"
_NOT_RUN = {"library", "documentation", "template"}
_RUN_TYPES = {"service", "website", "backend", "frontend", "api", "application"}
_RESOURCE_TYPES = {
    "database": "database",
    "db": "database",
    "queue": "queue",
    "topic": "queue",
    "kafka-topic": "queue",
    "sqs-queue": "queue",
    "s3-bucket": "storage",
    "bucket": "storage",
    "storage": "storage",
    "file-system": "storage",
    "dns": "dns",
    "dns-zone": "dns",
    "load-balancer": "load-balancer",
    "vm": "vm",
    "virtual-machine": "vm",
    "host": "host",
    "server": "host",
    "container": "container",
    "saas": "saas",
}

Ref = tuple[str, str, str]  # kind, namespace, name (lower-case, as Backstage compares them)


def parse_ref(ref: str, default_kind: str, default_namespace: str = "default") -> Ref:
    """`[kind:][namespace/]name` with Backstage's defaults."""
    kind, _, rest = ref.rpartition(":") if ":" in ref else ("", "", ref)
    namespace, _, name = rest.rpartition("/") if "/" in rest else ("", "", rest)
    return (
        (kind or default_kind).lower(),
        (namespace or default_namespace).lower(),
        name.lower(),
    )


@dataclass
class _Entity:
    raw: Mapping[str, Any]
    ref: Ref
    where: str  # for the report: `component:default/gl-api`

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.raw.get("metadata") or {}

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.raw.get("spec") or {}


def import_entities(entities: Iterable[Any]) -> tuple[dict[str, Any], ImportReport]:
    """One catalog document and the report, from parsed entity descriptors."""
    report = ImportReport(SOURCE)
    by_ref: dict[Ref, _Entity] = {}
    for raw in entities:
        entity = _entity(raw, report)
        if entity is not None:
            by_ref.setdefault(entity.ref, entity)
    owners = _owners(by_ref)
    ids = Ids()
    node_ids: dict[Ref, str] = {}
    # Systems first, so a component of the same name is the one renamed.
    for kind in ("system", "component", "resource"):
        for ref, entity in sorted(by_ref.items()):
            if ref[0] != kind or not _is_node(entity, report):
                continue
            wanted = ref[2] if ref[1] == "default" else f"{ref[1]}.{ref[2]}"
            node_ids[ref] = ids.claim(wanted, kind, report, entity.where)
    providers = _providers(by_ref)
    services, cis = [], []
    for ref, node in node_ids.items():
        entity = by_ref[ref]
        if ref[0] == "system":
            services.append(_service(entity, node, node_ids, by_ref, owners, report))
        else:
            cis.append(_ci(entity, node, node_ids, providers, owners, report))
    dedupe_aliases(cis, report)
    break_cycles(cis, report)
    doc: dict[str, Any] = {"version": 1}
    if services:
        doc["services"] = sorted(services, key=lambda s: s["id"])
    if cis:
        doc["cis"] = sorted(cis, key=lambda c: c["id"])
    return doc, report


def _entity(raw: Any, report: ImportReport) -> _Entity | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("kind"), str):
        report.skip("not an entity descriptor (no kind)", str(raw)[:60])
        return None
    metadata = raw.get("metadata") or {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        report.skip("entity without metadata.name", raw["kind"])
        return None
    kind = raw["kind"].lower()
    ref = (kind, str(metadata.get("namespace") or "default").lower(), name.lower())
    where = f"{kind}:{ref[1]}/{ref[2]}"
    if kind in ("location", "template", "user", "group", "domain", "api"):
        report.mapped[f"{raw['kind']} -> no entry (read for owners, domains, APIs)"] += 1
    elif kind not in ("system", "component", "resource"):
        report.skip(f"kind {raw['kind']} has no catalog counterpart", where)
        return None
    return _Entity(raw, ref, where)


def _is_node(entity: _Entity, report: ImportReport) -> bool:
    if entity.ref[0] != "component":
        return True
    kind = str(entity.spec.get("type") or "").lower()
    if kind in _NOT_RUN:
        report.skip(f"a {kind} component is not run, so it is no CI", entity.where)
        return False
    return True


def _owners(by_ref: Mapping[Ref, _Entity]) -> dict[Ref, str]:
    """Group and user refs -> the name people know them by."""
    out: dict[Ref, str] = {}
    for ref, entity in by_ref.items():
        if ref[0] in ("group", "user"):
            profile = entity.spec.get("profile") or {}
            out[ref] = str(
                profile.get("displayName") or entity.metadata.get("title") or ref[2]
            ).strip()
    return out


def _owner(entity: _Entity, node: str, owners: Mapping[Ref, str], report: ImportReport) -> str:
    raw = entity.spec.get("owner")
    if not isinstance(raw, str) or not raw.strip():
        report.supply("owner (none in Backstage)", entity.where)
        report.placeholder(node, "owner")
        return UNASSIGNED
    ref = parse_ref(raw, "group", entity.ref[1])
    return owners.get(ref) or ref[2]


def _providers(by_ref: Mapping[Ref, _Entity]) -> dict[Ref, list[Ref]]:
    """API ref -> the components providing it."""
    out: dict[Ref, list[Ref]] = {}
    for ref, entity in by_ref.items():
        if ref[0] == "component":
            for api in entity.spec.get("providesApis") or ():
                out.setdefault(parse_ref(str(api), "api", ref[1]), []).append(ref)
    return out


def _service(
    entity: _Entity,
    node: str,
    node_ids: Mapping[Ref, str],
    by_ref: Mapping[Ref, _Entity],
    owners: Mapping[Ref, str],
    report: ImportReport,
) -> dict[str, Any]:
    report.mapped["System -> business service"] += 1
    members = sorted(
        node_ids[ref]
        for ref, other in by_ref.items()
        if ref in node_ids
        and ref[0] in ("component", "resource")
        and isinstance(other.spec.get("system"), str)
        and parse_ref(other.spec["system"], "system", ref[1]) == entity.ref
    )
    domain = entity.spec.get("domain")
    if not isinstance(domain, str) or not domain:
        report.supply("business domain (the system has no spec.domain)", node)
        domain = UNASSIGNED
    if not members:
        report.warn("business service with no component or resource", node)
    report.supply(SUPPLY_SERVICE, node)
    report.placeholder(node, "tier", "users")
    if domain == UNASSIGNED:
        report.placeholder(node, "domain")
    service: dict[str, Any] = {
        "id": node,
        "name": str(entity.metadata.get("title") or entity.ref[2]),
        "owner": _owner(entity, node, owners, report),
        "tier": PLACEHOLDER_TIER,
        "users": PLACEHOLDER_USERS,
        "domain": parse_ref(domain, "domain", entity.ref[1])[2],
        "dependencies": [{"to": m} for m in members],
    }
    if entity.metadata.get("description"):
        service["description"] = str(entity.metadata["description"])
    return service


def _ci(
    entity: _Entity,
    node: str,
    node_ids: Mapping[Ref, str],
    providers: Mapping[Ref, list[Ref]],
    owners: Mapping[Ref, str],
    report: ImportReport,
) -> dict[str, Any]:
    kind = entity.ref[0]
    spec_type = str(entity.spec.get("type") or "").lower()
    if kind == "component":
        report.mapped["Component -> CI"] += 1
        if spec_type not in _RUN_TYPES:
            report.warn(f"component type {spec_type or '(none)'!r} read as an app", entity.where)
        ci_type = "app"
    else:
        report.mapped["Resource -> CI"] += 1
        ci_type = _RESOURCE_TYPES.get(spec_type, "")
        if not ci_type:
            report.warn(f"resource type {spec_type or '(none)'!r} read as a host", entity.where)
            ci_type = "host"
    targets: list[str] = []
    for raw in entity.spec.get("dependsOn") or ():
        ref = parse_ref(str(raw), "component", entity.ref[1])
        if ref in node_ids and ref[0] in ("component", "resource"):
            targets.append(node_ids[ref])
        else:
            report.warn(
                "dependsOn an entity that is not an imported CI, dropped",
                f"{entity.where} -> {raw}",
            )
    for raw in entity.spec.get("consumesApis") or ():
        api = parse_ref(str(raw), "api", entity.ref[1])
        found = [node_ids[p] for p in providers.get(api, ()) if p in node_ids]
        if not found:
            report.warn(
                "consumes an API no imported component provides", f"{entity.where} -> {raw}"
            )
        targets.extend(found)
    ci: dict[str, Any] = {
        "id": node,
        "type": ci_type,
        "owner": _owner(entity, node, owners, report),
        "name": str(entity.metadata.get("title") or entity.ref[2]),
        "attributes": _attributes(entity, spec_type),
    }
    aliases = _aliases(entity, node)
    if aliases:
        ci["aliases"] = aliases
    unique = [t for t in dict.fromkeys(targets) if t != node]
    if unique:
        ci["dependencies"] = [{"to": t} for t in unique]
    return ci


def _attributes(entity: _Entity, spec_type: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {"backstage.ref": entity.where}
    for key, value in (
        ("backstage.type", spec_type),
        ("backstage.lifecycle", entity.spec.get("lifecycle")),
        ("backstage.tags", list(entity.metadata.get("tags") or [])),
        ("backstage.annotations", dict(entity.metadata.get("annotations") or {})),
    ):
        if value:
            attributes[key] = value
    return attributes


def _aliases(entity: _Entity, node: str) -> list[str]:
    annotations = entity.metadata.get("annotations") or {}
    k8s = annotations.get(K8S_ID)
    if not isinstance(k8s, str) or not k8s:
        return []
    namespace = annotations.get(K8S_NAMESPACE)
    alias = f"{namespace}/{k8s}" if isinstance(namespace, str) and namespace else k8s
    return [] if alias.lower() == node else [alias]
