"""A validated catalog: every business service, technical service and CI from a set of documents."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import PurePath
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from impactline.core.catalog.bindings import BindingRule
from impactline.core.catalog.bulk import collector_paused
from impactline.core.catalog.errors import UnknownNodeError, format_path
from impactline.core.catalog.model import (
    BINDINGS,
    SECTIONS,
    SUPPORTED_VERSIONS,
    BusinessService,
    ConfigurationItem,
    Lifecycle,
    Node,
    NodeKind,
    TechnicalService,
)
from impactline.core.catalog.validation import CheckedCatalog, check_documents

if TYPE_CHECKING:
    from impactline.core.catalog.graph import CatalogGraph


class Catalog:
    """An immutable, valid catalog. Build it with `from_documents` (or `load_catalog` for files)."""

    def __init__(self, checked: CheckedCatalog) -> None:
        self._checked = checked
        by_kind: dict[NodeKind, dict[str, Any]] = {kind: {} for kind in NodeKind}
        for node_id, node in checked.nodes.items():
            by_kind[checked.kinds[node_id]][node_id] = node
        self.services: Mapping[str, BusinessService] = MappingProxyType(
            by_kind[NodeKind.BUSINESS_SERVICE]
        )
        """Every business service in the portfolio, whatever its lifecycle."""
        self.technical_services: Mapping[str, TechnicalService] = MappingProxyType(
            by_kind[NodeKind.TECHNICAL_SERVICE]
        )
        self.cis: Mapping[str, ConfigurationItem] = MappingProxyType(by_kind[NodeKind.CI])
        self.dependency_order: tuple[str, ...] = tuple(checked.order)
        """Every node id, each after all the nodes it depends on."""
        self.bindings: tuple[BindingRule, ...] = tuple(
            rule
            for name in sorted(checked.bindings, key=_file_order)
            for rule in checked.bindings[name]
        )
        """Every binding rule in the order they are tried: by file name, then as written. File
        names, unlike folders or the order files were given in, survive storage unchanged."""

    @classmethod
    def from_documents(cls, docs: Iterable[tuple[str, Mapping[str, Any]]]) -> Catalog:
        """Build a catalog from (document name, parsed YAML/JSON mapping) pairs.

        Raises `CatalogInvalid` listing every error, each naming the document and the path in it.
        """
        with collector_paused():
            return cls(check_documents(docs))

    def with_document(self, name: str, document: Mapping[str, Any]) -> Catalog:
        """A new catalog where the document `name` is replaced (or added); this one is unchanged."""
        docs = dict(self.to_documents())
        docs[name] = dict(document)
        return Catalog.from_documents(docs.items())

    def to_documents(self) -> list[tuple[str, dict[str, Any]]]:
        """The catalog as JSON-compatible documents that `from_documents` reads back unchanged."""
        out: list[tuple[str, dict[str, Any]]] = []
        for name, sections in self._checked.documents.items():
            doc: dict[str, Any] = {"version": SUPPORTED_VERSIONS[-1]}
            for section in SECTIONS:
                entries = sections[section]
                if entries:
                    doc[section] = [_dump(node) for node in entries]
            rules = self._checked.bindings.get(name)
            if rules:
                doc[BINDINGS] = [_dump(rule) for rule in rules]
            out.append((name, doc))
        return out

    @cached_property
    def fingerprint(self) -> str:
        """A content hash: the same for the same entries, however split into files or ordered."""
        digest = hashlib.sha256()
        for node_id in sorted(self._checked.nodes):
            kind = self._checked.kinds[node_id]
            body = json.dumps(_dump(self._checked.nodes[node_id]), sort_keys=True)
            digest.update(f"{kind}\0{body}\n".encode())
        for rule in self.bindings:  # their order is part of what they mean
            digest.update(f"{BINDINGS}\0{json.dumps(_dump(rule), sort_keys=True)}\n".encode())
        return f"sha256:{digest.hexdigest()}"

    @cached_property
    def graph(self) -> CatalogGraph:
        """The dependency graph of this catalog, built once on first use."""
        from impactline.core.catalog.graph import CatalogGraph

        return CatalogGraph(self)

    @property
    def document_names(self) -> tuple[str, ...]:
        return tuple(self._checked.documents)

    def node(self, node_id: str) -> Node:
        try:
            return self._checked.nodes[node_id]
        except KeyError:
            raise UnknownNodeError(node_id, "catalog entry") from None

    def kind_of(self, node_id: str) -> NodeKind:
        try:
            return self._checked.kinds[node_id]
        except KeyError:
            raise UnknownNodeError(node_id, "catalog entry") from None

    def location_of(self, node_id: str) -> tuple[str, str]:
        """(document name, path inside it) where an entry is defined, for messages to people."""
        try:
            place = self._checked.places[node_id]
        except KeyError:
            raise UnknownNodeError(node_id, "catalog entry") from None
        return place.file, format_path(place.loc[:-1])

    def catalog_view(self) -> list[BusinessService]:
        """The service catalog users see: active, user-facing business services, by id."""
        return [
            s
            for _, s in sorted(self.services.items())
            if s.lifecycle is Lifecycle.ACTIVE and s.user_facing
        ]

    def portfolio(self) -> list[BusinessService]:
        """Every business service whatever its lifecycle (pipeline, active, retired), by id."""
        return [s for _, s in sorted(self.services.items())]

    def __repr__(self) -> str:
        return (
            f"Catalog({len(self.services)} business services, "
            f"{len(self.technical_services)} technical services, {len(self.cis)} CIs, "
            f"{len(self._checked.documents)} documents)"
        )


def _file_order(name: str) -> tuple[str, str]:
    return PurePath(name).name, name


def _dump(node: Node | BindingRule) -> dict[str, Any]:
    return node.model_dump(mode="json", exclude_defaults=True)
