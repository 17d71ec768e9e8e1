"""Where a value can be found in a catalog: CI ids, aliases and attribute values.

Every comparison ignores case. Indexes of CI attributes are built on first use, only for the
attributes that binding rules look up. The closest CI ids for a value nothing matched come from
a fuzzy comparison with every id and alias (rapidfuzz), remembered per value: the same unknown
host tends to send many events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from impactline.core.catalog import Catalog

CLOSEST = 3
_MIN_SCORE = 60.0
_CACHED_VALUES = 4096


@dataclass(frozen=True, slots=True)
class Found:
    """The outcome of one lookup: the CI ids that carry the value, and how they carry it."""

    ci_ids: tuple[str, ...]
    via: str  # "id", "alias" or "attribute:<name>"

    @property
    def unique(self) -> str | None:
        return self.ci_ids[0] if len(self.ci_ids) == 1 else None


class CatalogIndex:
    """Lookups of one catalog version; read-only once built."""

    def __init__(self, catalog: Catalog) -> None:
        self._cis = catalog.cis
        folded: dict[str, list[str]] = {}
        aliases: dict[str, str] = {}
        for ci_id, ci in catalog.cis.items():
            folded.setdefault(ci_id.lower(), []).append(ci_id)
            for alias in ci.aliases:
                aliases[alias.lower()] = ci_id  # unique: the catalog checks it
        self._ids = {k: tuple(v) for k, v in folded.items()}
        self._aliases = aliases
        self._attributes: dict[str, dict[str, tuple[str, ...]]] = {}
        # Fuzzy matching compares with every name; keep the names (and their CI) in two lists.
        names = {**{k: v[0] for k, v in self._ids.items()}, **aliases}
        self._names = list(names)
        self._owners = list(names.values())
        self.closest = lru_cache(maxsize=_CACHED_VALUES)(self._closest)

    def is_ci(self, value: str) -> bool:
        """Exactly a CI id, case included: the fast path for events that name their CI."""
        return value in self._cis

    def find(self, value: str, lookup: str) -> Found:
        """The CIs `value` names under `lookup`: `id`, `alias`, `any` or `attribute:<name>`."""
        folded = value.lower()
        if lookup in ("id", "any"):
            if value in self._cis:
                return Found((value,), "id")
            ids = self._ids.get(folded, ())
            if ids or lookup == "id":
                return Found(ids, "id")
        if lookup in ("alias", "any"):
            owner = self._aliases.get(folded)
            return Found((owner,) if owner else (), "alias")
        name = lookup.removeprefix("attribute:")
        return Found(self._attribute(name).get(folded, ()), lookup)

    def _attribute(self, name: str) -> dict[str, tuple[str, ...]]:
        index = self._attributes.get(name)
        if index is None:
            found: dict[str, list[str]] = {}
            for ci_id, ci in self._cis.items():
                for value in _values(ci.attributes.get(name)):
                    owners = found.setdefault(value.lower(), [])
                    if ci_id not in owners:
                        owners.append(ci_id)
            index = self._attributes[name] = {k: tuple(v) for k, v in found.items()}
        return index

    def _closest(self, value: str) -> tuple[tuple[str, float], ...]:
        matches = process.extract(
            value.lower(),
            self._names,
            scorer=fuzz.ratio,
            limit=CLOSEST * 3,
            score_cutoff=_MIN_SCORE,
        )
        return tuple((self._owners[index], score) for _, score, index in matches)

    def closest_cis(self, values: Iterable[str]) -> tuple[str, ...]:
        """Up to three CI ids whose id or alias is most like any of `values`, best first."""
        best: dict[str, float] = {}
        for value in values:
            if not value:
                continue
            for ci_id, score in self.closest(value):
                best[ci_id] = max(score, best.get(ci_id, 0.0))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return tuple(ci_id for ci_id, _ in ranked[:CLOSEST])


def _values(raw: Any) -> list[str]:
    """The attribute's values as text: one for a scalar, each item of a list."""
    if raw is None or isinstance(raw, Mapping):
        return []
    if isinstance(raw, list | tuple):
        return [str(item) for item in raw if item is not None and not isinstance(item, Mapping)]
    return [str(raw)]
