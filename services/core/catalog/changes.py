"""What a new catalog version changes against the current one, told before it is published.

A catalog replaces the whole portfolio: an upload that lost its documents on the way (an empty
body, a wrong file) would otherwise remove every business service and CI the workers know. Such
a replacement is refused unless the caller says it is meant (`force`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from impactline.core.catalog.catalog import Catalog

LISTED = 100  # ids listed per kind; the counts are always complete


@dataclass(frozen=True, slots=True)
class CatalogChanges:
    services_before: int
    services_after: int
    removed_services: tuple[str, ...]
    added_services: tuple[str, ...]
    removed_cis: tuple[str, ...]
    added_cis: tuple[str, ...]

    @property
    def removes_every_service(self) -> bool:
        return self.services_before > 0 and self.services_after == 0

    def as_dict(self) -> dict[str, Any]:
        """Counts and (at most LISTED) ids of each kind of change."""
        return {
            "services_before": self.services_before,
            "services_after": self.services_after,
            "removed_services": len(self.removed_services),
            "added_services": len(self.added_services),
            "removed_cis": len(self.removed_cis),
            "added_cis": len(self.added_cis),
            "removed_service_ids": list(self.removed_services[:LISTED]),
            "added_service_ids": list(self.added_services[:LISTED]),
            "removed_ci_ids": list(self.removed_cis[:LISTED]),
            "added_ci_ids": list(self.added_cis[:LISTED]),
        }


def changes_between(before: Catalog | None, after: Catalog) -> CatalogChanges:
    old_services = set(before.services) if before is not None else set()
    old_cis = set(before.cis) if before is not None else set()
    return CatalogChanges(
        services_before=len(old_services),
        services_after=len(after.services),
        removed_services=tuple(sorted(old_services - set(after.services))),
        added_services=tuple(sorted(set(after.services) - old_services)),
        removed_cis=tuple(sorted(old_cis - set(after.cis))),
        added_cis=tuple(sorted(set(after.cis) - old_cis)),
    )
