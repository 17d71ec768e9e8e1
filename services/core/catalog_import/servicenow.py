"""ServiceNow CMDB exports (Table API JSON: `{"result": [...]}`) -> one catalog document.

| ServiceNow                              | catalog                                          |
|-----------------------------------------|--------------------------------------------------|
| `cmdb_ci_service*` rows                 | business services; `service_classification`      |
|                                         | "Technical Service" (or "Technology Management    |
|                                         | Service") gives a technical service              |
| `busines_criticality` "1 - most ..."    | tier 1 .. 4                                      |
| other `cmdb_ci_*` rows                  | CIs typed from `sys_class_name`                  |
| `cmdb_rel_ci` "Depends on::Used by",    | `parent` needs `child` (required dependency)     |
| "Runs on::Runs", "Hosted on::Hosts"     |                                                  |
| `name`, `fqdn`, `host_name`             | the id (lower case, `-` for other characters)    |
|                                         | and aliases, for binding                         |
| `ip_address`                            | the CI's `ip` attribute (the `ip-address` rule)  |
| `owned_by`, `managed_by`, `support_group`| owner (display value)                           |

Fields may be plain strings, `{"value", "display_value"}` (sysparm_display_value=all) or
`{"link", "value"}` references; display values are used where the export has them. Retired
records (`install_status` 7) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from impactline.core.catalog_import.common import (
    PLACEHOLDER_TIER,
    PLACEHOLDER_USERS,
    SUPPLY_PEOPLE,
    SUPPLY_SERVICE,
    UNASSIGNED,
    Ids,
    break_cycles,
    dedupe_aliases,
)
from impactline.core.catalog_import.report import ImportReport

SOURCE = "ServiceNow"
RETIRED = "7"
DEPENDS_ON = "1a9cb166f1571100a92eb60da2bce5c5"  # sys_id of "Depends on::Used by"
NEEDS = ("depends on::used by", "runs on::runs", "hosted on::hosts")
_TECHNICAL = ("technical service", "technology management service")
_OWNER_FIELDS = ("owned_by", "managed_by", "support_group", "assignment_group")
_TYPES: tuple[tuple[str, str], ...] = (
    ("cmdb_ci_db", "database"),
    ("cmdb_ci_vm", "vm"),
    ("cmdb_ci_vmware_instance", "vm"),
    ("cmdb_ci_docker", "container"),
    ("cmdb_ci_kubernetes", "container"),
    ("cmdb_ci_lb", "load-balancer"),
    ("cmdb_ci_storage", "storage"),
    ("cmdb_ci_san", "storage"),
    ("cmdb_ci_dns", "dns"),
    ("cmdb_ci_ip_router", "link"),
    ("cmdb_ci_ip_switch", "link"),
    ("cmdb_ci_wan", "link"),
    ("cmdb_ci_queue", "queue"),
    ("cmdb_ci_appl", "app"),
    ("cmdb_ci_app_server", "app"),
    ("cmdb_ci_cloud", "saas"),
    ("cmdb_ci_server", "host"),
    ("cmdb_ci_esx", "host"),
    ("cmdb_ci_linux_server", "host"),
    ("cmdb_ci_win_server", "host"),
    ("cmdb_ci_unix_server", "host"),
    ("cmdb_ci_computer", "host"),
)


def rows_of(export: Any) -> list[Mapping[str, Any]]:
    """The records of one Table API export: `{"result": [...]}`, or a bare array."""
    rows = export.get("result") if isinstance(export, Mapping) else export
    if isinstance(rows, Mapping):  # a single-record GET
        rows = [rows]
    if not isinstance(rows, list):
        raise ValueError('expected a Table API export: {"result": [records]}')
    return [r for r in rows if isinstance(r, Mapping)]


def value(record: Mapping[str, Any], field: str, *, display: bool = True) -> str:
    """A field as text: its display value where the export has one (if `display`)."""
    raw = record.get(field)
    if isinstance(raw, Mapping):
        shown = raw.get("display_value") if display else None
        raw = shown if shown not in (None, "") else raw.get("value")
    return "" if raw is None else str(raw).strip()


def import_exports(exports: Iterable[Any]) -> tuple[dict[str, Any], ImportReport]:
    """One catalog document and the report, from the parsed export files."""
    report = ImportReport(SOURCE)
    records: dict[str, Mapping[str, Any]] = {}
    relations: list[Mapping[str, Any]] = []
    for export in exports:
        for row in rows_of(export):
            if "parent" in row and "child" in row:
                relations.append(row)
                continue
            sys_id = value(row, "sys_id", display=False)
            if not sys_id:
                report.skip("record without sys_id", value(row, "name") or "?")
            elif value(row, "install_status", display=False) == RETIRED:
                report.skip("retired (install_status 7)", value(row, "name") or sys_id)
            else:
                records.setdefault(sys_id, row)
    ids = Ids()
    node_ids: dict[str, str] = {}
    kinds: dict[str, str] = {}
    # Services first: a CI sharing a service's name is the one renamed.
    for sys_id, row in sorted(records.items(), key=lambda i: (not _is_service(i[1]), i[0])):
        name = value(row, "name") or sys_id
        node_ids[sys_id] = ids.claim(name, sys_id[:8], report, f"{name} ({sys_id})")
        kinds[sys_id] = _kind(row)
    entries = {
        sys_id: _entry(row, node_ids[sys_id], kinds[sys_id], report)
        for sys_id, row in records.items()
    }
    _relate(relations, entries, node_ids, kinds, report)
    cis = [e for s, e in entries.items() if kinds[s] == "ci"]
    dedupe_aliases(cis, report)
    break_cycles(entries.values(), report)
    doc: dict[str, Any] = {"version": 1}
    for section, kind in (
        ("services", "service"),
        ("technical_services", "technical"),
        ("cis", "ci"),
    ):
        chosen = sorted((e for s, e in entries.items() if kinds[s] == kind), key=lambda e: e["id"])
        if chosen:
            doc[section] = chosen
    return doc, report


def _is_service(row: Mapping[str, Any]) -> bool:
    return value(row, "sys_class_name", display=False).startswith("cmdb_ci_service")


def _kind(row: Mapping[str, Any]) -> str:
    if not _is_service(row):
        return "ci"
    classification = value(row, "service_classification").lower()
    return "technical" if classification in _TECHNICAL else "service"


def _owner(row: Mapping[str, Any], entry: str, report: ImportReport) -> str:
    for field in _OWNER_FIELDS:
        found = value(row, field)
        if found:
            return found
    report.supply("owner (none in the export)", entry)
    report.placeholder(entry, "owner")
    return UNASSIGNED


def _entry(row: Mapping[str, Any], node: str, kind: str, report: ImportReport) -> dict[str, Any]:
    name = value(row, "name") or node
    entry: dict[str, Any] = {"id": node, "name": name, "owner": _owner(row, node, report)}
    description = value(row, "short_description") or value(row, "comments")
    if kind == "service":
        report.mapped["cmdb_ci_service -> business service"] += 1
        tier = _tier(value(row, "busines_criticality"))
        if tier is None:
            report.placeholder(node, "tier")
        report.placeholder(node, "users")
        report.supply(SUPPLY_SERVICE if tier is None else SUPPLY_PEOPLE, node)
        entry.update(
            tier=tier or PLACEHOLDER_TIER,
            users=PLACEHOLDER_USERS,
            domain=_domain(row, node, report),
        )
    elif kind == "technical":
        report.mapped["cmdb_ci_service (technical) -> technical service"] += 1
    else:
        report.mapped[f"{value(row, 'sys_class_name', display=False) or 'cmdb_ci'} -> CI"] += 1
        entry["type"] = _ci_type(value(row, "sys_class_name", display=False), node, report)
        entry["attributes"] = _attributes(row)
        aliases = [value(row, f) for f in ("fqdn", "host_name", "name")]
        entry["aliases"] = [a for a in dict.fromkeys(aliases) if a and a.lower() != node]
    if description:
        entry["description"] = description
    entry["dependencies"] = []
    return entry


def _tier(criticality: str) -> int | None:
    head = criticality.split("-", 1)[0].strip()
    return int(head) if head in ("1", "2", "3", "4") else None


def _domain(row: Mapping[str, Any], node: str, report: ImportReport) -> str:
    for field in ("business_unit", "department", "category"):
        found = value(row, field)
        if found:
            return found.lower()
    report.supply("business domain (no business_unit, department or category)", node)
    report.placeholder(node, "domain")
    return UNASSIGNED


def _ci_type(sys_class: str, node: str, report: ImportReport) -> str:
    for prefix, ci_type in _TYPES:
        if sys_class.startswith(prefix):
            return ci_type
    report.warn(f"class {sys_class or '(none)'} read as a host", node)
    return "host"


def _attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"servicenow.sys_id": value(row, "sys_id", display=False)}
    for field, key in (
        ("sys_class_name", "servicenow.class"),
        ("ip_address", "ip"),
        ("os", "os"),
        ("location", "site"),
        ("environment", "environment"),
        ("used_for", "used_for"),
    ):
        found = value(row, field, display=field != "sys_class_name")
        if found:
            attributes[key] = found
    return attributes


def _relate(
    relations: list[Mapping[str, Any]],
    entries: dict[str, dict[str, Any]],
    node_ids: Mapping[str, str],
    kinds: Mapping[str, str],
    report: ImportReport,
) -> None:
    """`parent` needs `child` for the relationship types that mean it; the catalog's layering
    (a CI needs only CIs, a technical service no business service) is kept."""
    may_need = {
        "service": {"service", "technical", "ci"},
        "technical": {"technical", "ci"},
        "ci": {"ci"},
    }
    seen: set[tuple[str, str]] = set()
    for rel in relations:
        kind = value(rel, "type").lower()
        if kind not in NEEDS and value(rel, "type", display=False) != DEPENDS_ON:
            report.skip(
                f"relationship type {value(rel, 'type') or '(none)'} is no dependency", _rel(rel)
            )
            continue
        parent = value(rel, "parent", display=False)
        child = value(rel, "child", display=False)
        if parent not in entries or child not in entries:
            report.warn(
                "relationship to a record not in the export (or retired), dropped", _rel(rel)
            )
            continue
        if kinds[child] not in may_need[kinds[parent]] or parent == child:
            report.warn("relationship against the catalog's layering, dropped", _rel(rel))
            continue
        if (parent, child) in seen:
            continue
        seen.add((parent, child))
        entries[parent]["dependencies"].append({"to": node_ids[child]})
        report.mapped["cmdb_rel_ci -> dependency"] += 1


def _rel(rel: Mapping[str, Any]) -> str:
    return f"{value(rel, 'parent')} -> {value(rel, 'child')}"
