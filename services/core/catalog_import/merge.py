"""Re-import: merge a fresh import with the catalog file it was written to before.

People complete an imported file by hand: tiers, user counts, personas, calendars, aliases,
extra dependencies, whole new entries, binding rules. A re-import keeps all of that and only
refreshes what the source owns:

- an entry the import brings again gets the imported fields, except placeholders (a tier or
  user count the source does not know) and the fields only people supply, which stay as they
  are; attributes and aliases are joined, the imported ones winning on the same key;
- its dependencies are the imported ones plus those a person added to entries the import does
  not bring (an edge between two imported entries follows the source);
- an entry the import does not bring is kept, and the report lists it (written by hand, or
  gone from the source: a person decides);
- everything else in the file (binding rules, other sections) is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from impactline.core.catalog.model import BINDINGS, SECTIONS
from impactline.core.catalog_import.report import ImportReport

PERSON_FIELDS = frozenset(
    {
        "personas",
        "vip_users",
        "calendar",
        "targets",
        "support",
        "request_methods",
        "costs",
        "business_value",
        "approval",
        "eligibility",
        "user_facing",
        "lifecycle",
    }
)


def merge(
    imported: Mapping[str, Any], existing: Mapping[str, Any] | None, report: ImportReport
) -> dict[str, Any]:
    """The document to write: `imported` merged into `existing` (None: a first import)."""
    if not existing:
        return dict(imported)
    out: dict[str, Any] = {k: v for k, v in existing.items() if k not in SECTIONS}
    out["version"] = imported.get("version", existing.get("version", 1))
    imported_ids = {e["id"] for s in SECTIONS for e in imported.get(s) or ()}
    for section in SECTIONS:
        before = {e.get("id"): e for e in existing.get(section) or () if isinstance(e, Mapping)}
        merged: list[dict[str, Any]] = []
        for entry in imported.get(section) or ():
            old = before.pop(entry["id"], None)
            if old is None:
                report.note_merge("new from the import", entry["id"])
                merged.append(dict(entry))
            else:
                report.note_merge("updated from the import, hand-made fields kept", entry["id"])
                merged.append(_entry(entry, old, imported_ids, report.placeholders))
        for node_id, old in before.items():
            report.note_merge(
                "kept, not in this import (written by hand, or gone from the source)",
                str(node_id),
            )
            merged.append(dict(old))
        if merged:
            out[section] = merged
    if BINDINGS in existing:
        out[BINDINGS] = existing[BINDINGS]
    return out


def _entry(
    new: Mapping[str, Any],
    old: Mapping[str, Any],
    imported_ids: set[str],
    placeholders: Mapping[str, set[str]],
) -> dict[str, Any]:
    held = placeholders.get(new["id"], set())
    out = dict(old)
    for field, value in new.items():
        if field in PERSON_FIELDS or (field in held and field in old):
            continue
        if field == "attributes":
            out[field] = {**(old.get(field) or {}), **value}
        elif field == "aliases":
            out[field] = list(dict.fromkeys([*value, *(old.get(field) or ())]))
        elif field == "dependencies":
            out[field] = _dependencies(value, old.get(field) or (), imported_ids)
        else:
            out[field] = value
    if "dependencies" not in new and old.get("dependencies"):
        out["dependencies"] = _dependencies((), old["dependencies"], imported_ids)
    return out


def _dependencies(new: Any, old: Any, imported_ids: set[str]) -> list[Any]:
    """The imported edges, plus the hand-made ones to entries the import does not bring."""
    out = list(new)
    for dep in old:
        targets = [dep.get("to")] if "to" in dep else list(dep.get("members") or ())
        if not any(t in imported_ids for t in targets) and dep not in out:
            out.append(dep)
    return out
