"""Shared by the importers: ids, placeholders a person replaces, and breaking dependency loops."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from impactline.core.catalog.ordering import dependency_order
from impactline.core.catalog_import.report import ImportReport

PLACEHOLDER_TIER = 3
PLACEHOLDER_USERS = 0
UNASSIGNED = "unassigned"
SUPPLY_SERVICE = (
    "tier and users (set to 3 and 0 until then: no impact is counted), personas, calendar and "
    "targets of each business service"
)
SUPPLY_PEOPLE = (
    "users (set to 0 until then: no impact is counted), personas, calendar and targets of each "
    "business service"
)
_NOT_ID = re.compile(r"[^a-z0-9._:-]+")


def node_id(text: str) -> str:
    """A catalog id from a foreign name: lower case, other characters as `-`."""
    slug = _NOT_ID.sub("-", text.strip().lower()).strip("-._:")
    return slug[:128] or "unnamed"


class Ids:
    """Hands out catalog ids, unique across every kind of entry."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, wanted: str, tiebreak: str, report: ImportReport, entry: str) -> str:
        candidate = node_id(wanted)
        if candidate in self._taken:
            candidate = node_id(f"{wanted}-{tiebreak}")
            report.warn("id taken by another entry, renamed", f"{entry} -> {candidate}")
        while candidate in self._taken:
            candidate = node_id(f"{candidate}-x")
        self._taken.add(candidate)
        return candidate


def break_cycles(entries: Iterable[dict[str, Any]], report: ImportReport) -> None:
    """Drop one edge of every dependency loop (the catalog forbids them), reporting each."""
    by_id = {e["id"]: e for e in entries}
    while True:
        targets = {i: [d["to"] for d in e.get("dependencies", ())] for i, e in by_id.items()}
        _, cycles = dependency_order(list(by_id), targets)
        if not cycles:
            return
        for names in cycles:
            first, second = names[0], names[1 % len(names)]
            deps = by_id[first].get("dependencies", [])
            by_id[first]["dependencies"] = [d for d in deps if d["to"] != second]
            report.warn("dependency loop broken by dropping an edge", f"{first} -> {second}")


def dedupe_aliases(cis: list[dict[str, Any]], report: ImportReport) -> None:
    """Keep each alias on one CI only, and never one that is another CI's id (both are catalog
    rules); what is dropped is reported."""
    ids = {c["id"].lower() for c in cis}
    owner: dict[str, str] = {}
    clashing: set[str] = set()
    for ci in cis:
        for alias in ci.get("aliases", ()):
            folded = alias.lower()
            if folded in owner and owner[folded] != ci["id"]:
                clashing.add(folded)
            owner.setdefault(folded, ci["id"])
    for ci in cis:
        kept: list[str] = []
        for alias in ci.get("aliases", ()):
            folded = alias.lower()
            if folded in clashing or (folded in ids and folded != ci["id"].lower()):
                report.warn("alias names more than one CI, dropped", f"{ci['id']}: {alias}")
            elif folded != ci["id"].lower() and folded not in {a.lower() for a in kept}:
                kept.append(alias)
        if kept:
            ci["aliases"] = kept
        else:
            ci.pop("aliases", None)
