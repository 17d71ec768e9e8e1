"""Check a set of catalog documents as one catalog and report every broken rule at once.

Entries are validated one by one so that a broken entry does not hide the errors of its
neighbours, and ids of broken entries are still known so that references to them are not
reported a second time as unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from impactline.core.catalog.binding_checks import (
    Indexed,
    check_aliases,
    check_rule_names,
    read_bindings,
)
from impactline.core.catalog.bindings import BindingRule
from impactline.core.catalog.errors import (
    CatalogError,
    CatalogInvalid,
    Loc,
    format_path,
    sort_errors,
)
from impactline.core.catalog.field_errors import describe_found, field_errors, suggest
from impactline.core.catalog.model import (
    BINDINGS,
    DOCUMENT_KEYS,
    KIND_OF_SECTION,
    SECTIONS,
    SUPPORTED_VERSIONS,
    BusinessService,
    Dependency,
    Lifecycle,
    Node,
    NodeKind,
    RedundancyGroup,
    Requires,
)
from impactline.core.catalog.ordering import dependency_order, targets_of

# Which kinds of node each kind may depend on: the graph is layered so that a CI never needs a
# service, which keeps "what does this CI affect" meaningful.
_MAY_NEED = {
    NodeKind.BUSINESS_SERVICE: frozenset(NodeKind),
    NodeKind.TECHNICAL_SERVICE: frozenset({NodeKind.TECHNICAL_SERVICE, NodeKind.CI}),
    NodeKind.CI: frozenset({NodeKind.CI}),
}
_KIND_WORDS = {
    NodeKind.BUSINESS_SERVICE: "a business service",
    NodeKind.TECHNICAL_SERVICE: "a technical service",
    NodeKind.CI: "a CI",
}
_ALLOWED_WORDS = {
    kind: ", ".join(_KIND_WORDS[k] for k in NodeKind if k in allowed).replace(", a CI", " or a CI")
    for kind, allowed in _MAY_NEED.items()
}
_MAX_SUGGESTIONS = 25  # each suggestion scans every id; beyond this the list is noise anyway


@dataclass(frozen=True, slots=True)
class Place:
    file: str
    loc: Loc

    def __str__(self) -> str:
        return f"{self.file}:{format_path(self.loc)}"


@dataclass
class CheckedCatalog:
    """The outcome of a successful check."""

    documents: dict[str, dict[str, list[Node]]]
    nodes: dict[str, Node]
    kinds: dict[str, NodeKind]
    places: dict[str, Place]
    targets: dict[str, tuple[str, ...]]
    """The ids each node depends on directly (group members included), each once."""
    order: list[str]
    """Every node id, each after all the nodes it depends on."""
    bindings: dict[str, list[BindingRule]] = field(default_factory=dict)
    """Document name -> its binding rules, in file order."""


@dataclass(frozen=True, slots=True)
class _Owner:
    """The entry holding a dependency, as far as the dependency rules care."""

    id: str
    kind: NodeKind
    active_service: bool
    salvaged: bool = False
    """Broken entry whose dependencies are checked but which stays out of the cycle search."""


_DEPENDENCIES: TypeAdapter[list[Dependency]] = TypeAdapter(list[Dependency])
_SECTION_ADAPTERS: dict[str, TypeAdapter[list[Any]]] = {
    section: TypeAdapter(list[model]) for section, model in SECTIONS.items()
}


@dataclass
class _State:
    errors: list[CatalogError] = field(default_factory=list)
    documents: dict[str, dict[str, list[Node]]] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    kinds: dict[str, NodeKind] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    salvaged: list[tuple[_Owner, Place, list[Dependency]]] = field(default_factory=list)
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bindings: dict[str, Indexed] = field(default_factory=dict)
    suggestions_left: int = _MAX_SUGGESTIONS

    def fail(self, file: str, loc: Loc, message: str) -> None:
        self.errors.append(CatalogError(file, loc, message))


def check_documents(docs: Iterable[tuple[str, Any]]) -> CheckedCatalog:
    """Check documents (name -> parsed YAML) as one catalog; `CatalogInvalid` lists every error."""
    state = _State()
    for name, raw in docs:
        _read_document(state, name, raw)
    for node_id, node in state.nodes.items():
        _check_node(state, node_id, node)
    for owner, place, deps in state.salvaged:
        _check_dependencies(state, owner, place, deps)
    order = _dependency_order(state)
    state.errors.extend(check_rule_names(state.bindings))
    state.errors.extend(
        check_aliases(state.nodes, lambda i: (state.places[i].file, state.places[i].loc[:-1]))
    )
    if state.errors:
        raise CatalogInvalid(sort_errors(state.errors))
    return CheckedCatalog(
        state.documents,
        state.nodes,
        state.kinds,
        state.places,
        state.targets,
        order,
        {name: [rule for _, rule in rules] for name, rules in state.bindings.items()},
    )


def _read_document(state: _State, name: str, raw: Any) -> None:
    if name in state.documents:
        state.fail(name, (), "the same document name was given twice; names must be unique")
        return
    sections: dict[str, list[Node]] = {section: [] for section in SECTIONS}
    state.documents[name] = sections
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        state.fail(
            name,
            (),
            f"expected a mapping with keys {', '.join(DOCUMENT_KEYS)}; found {describe_found(raw)}",
        )
        return
    for key in raw:
        if key not in DOCUMENT_KEYS:
            hint = suggest(str(key), DOCUMENT_KEYS)
            state.fail(
                name,
                (str(key),),
                f"unexpected top-level key{hint}; expected one of: {', '.join(DOCUMENT_KEYS)}",
            )
    version = raw.get("version", SUPPORTED_VERSIONS[-1])
    if version not in SUPPORTED_VERSIONS:
        state.fail(
            name,
            ("version",),
            f"expected one of {', '.join(map(str, SUPPORTED_VERSIONS))}; "
            f"found {describe_found(version)}",
        )
    state.bindings[name] = read_bindings(name, raw.get(BINDINGS), state.errors)
    for section, model in SECTIONS.items():
        entries = raw.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            state.fail(name, (section,), f"expected a list; found {describe_found(entries)}")
            continue
        kind = KIND_OF_SECTION[section]
        try:
            # One call for the whole list is the fast path; entries are revisited one by one
            # only to tell the good ones from the broken ones.
            nodes = _SECTION_ADAPTERS[section].validate_python(entries)
        except ValidationError:
            nodes = None
        if nodes is not None:
            for index, node in enumerate(nodes):
                if _claim(state, node.id, kind, Place(name, (section, index, "id"))):
                    state.nodes[node.id] = node
                    sections[section].append(node)
            continue
        for index, entry in enumerate(entries):
            loc: Loc = (section, index)
            try:
                node = model.model_validate(entry)
            except ValidationError as exc:
                state.errors.extend(field_errors(name, loc, model, exc))
                _salvage(state, name, loc, kind, entry)
                continue
            if _claim(state, node.id, kind, Place(name, (*loc, "id"))):
                state.nodes[node.id] = node
                sections[section].append(node)


def _salvage(state: _State, name: str, loc: Loc, kind: NodeKind, entry: Any) -> None:
    """Keep what can be checked of a broken entry: its id, and its dependencies if well-formed."""
    claimed = entry.get("id") if isinstance(entry, Mapping) else None
    if not isinstance(claimed, str):
        return
    place = Place(name, (*loc, "id"))
    if not _claim(state, claimed, kind, place):
        return
    try:
        deps = _DEPENDENCIES.validate_python(entry.get("dependencies") or [])
    except ValidationError:
        return  # already reported through the entry itself
    active = entry.get("lifecycle", Lifecycle.ACTIVE) == Lifecycle.ACTIVE
    state.salvaged.append((_Owner(claimed, kind, active, salvaged=True), place, deps))


def _claim(state: _State, node_id: str, kind: NodeKind, place: Place) -> bool:
    first = state.places.get(node_id)
    if first is not None:
        state.fail(
            place.file,
            place.loc,
            f"duplicate id {node_id!r}: expected ids unique across all catalog files; "
            f"already defined at {first}",
        )
        return False
    state.places[node_id] = place
    state.kinds[node_id] = kind
    return True


def _check_node(state: _State, node_id: str, node: Node) -> None:
    place = state.places[node_id]
    kind = state.kinds[node_id]
    active = isinstance(node, BusinessService) and node.lifecycle is Lifecycle.ACTIVE
    _check_dependencies(state, _Owner(node_id, kind, active), place, node.dependencies)
    if isinstance(node, BusinessService):
        _check_personas(state, node, place.file, place.loc[:-1])


def _check_dependencies(
    state: _State, owner: _Owner, place: Place, dependencies: Sequence[Dependency]
) -> None:
    if not owner.salvaged:
        state.targets[owner.id] = targets_of(dependencies)
    seen_targets: dict[str, int] = {}
    for index, dep in enumerate(dependencies):
        if isinstance(dep, Requires):
            if dep.to not in seen_targets and _fine(state, owner, dep.to):
                seen_targets[dep.to] = index
                continue  # the common case, checked without building error locations
            loc = (*place.loc[:-1], "dependencies", index, "to")
            _check_target(state, owner, place.file, loc, dep.to)
            if dep.to in seen_targets:
                state.fail(
                    place.file,
                    loc,
                    f"duplicate dependency on {dep.to!r}: expected each target once per entry; "
                    f"also at dependencies[{seen_targets[dep.to]}]",
                )
            seen_targets.setdefault(dep.to, index)
        elif not (
            1 <= dep.quorum <= len(dep.members)
            and len(set(dep.members)) == len(dep.members)
            and all(_fine(state, owner, member) for member in dep.members)
        ):
            loc = (*place.loc[:-1], "dependencies", index)
            _check_group(state, owner, place.file, loc, dep)


def _fine(state: _State, owner: _Owner, target: str) -> bool:
    """True when a dependency target breaks no rule: the fast path of `_check_target`."""
    kind = state.kinds.get(target)
    if kind is None or target == owner.id or kind not in _MAY_NEED[owner.kind]:
        return False
    if kind is NodeKind.BUSINESS_SERVICE and owner.active_service:
        node = state.nodes.get(target)
        return not isinstance(node, BusinessService) or node.lifecycle is Lifecycle.ACTIVE
    return True


def _check_target(state: _State, owner: _Owner, file: str, loc: Loc, target: str) -> None:
    if target == owner.id:
        if owner.salvaged:
            state.fail(file, loc, f"{target!r} depends on itself: expected no dependency loops")
        return  # a valid entry gets this reported as a cycle of one
    target_kind = state.kinds.get(target)
    if target_kind is None:
        allowed = _ALLOWED_WORDS[owner.kind]
        hint = ""
        if state.suggestions_left > 0:
            state.suggestions_left -= 1
            hint = suggest(target, _neighbours(state, target))
        state.fail(
            file,
            loc,
            f"unknown id {target!r}{hint}: expected the id of {allowed} defined in one of "
            "the catalog files",
        )
        return
    if target_kind not in _MAY_NEED[owner.kind]:
        allowed = _ALLOWED_WORDS[owner.kind]
        state.fail(
            file,
            loc,
            f"{_KIND_WORDS[owner.kind]} may only depend on {allowed}; found {target!r}, "
            f"which is {_KIND_WORDS[target_kind]}",
        )
        return
    target_node = state.nodes.get(target)
    if (
        owner.active_service
        and isinstance(target_node, BusinessService)
        and target_node.lifecycle is not Lifecycle.ACTIVE
    ):
        state.fail(
            file,
            loc,
            f"active service {owner.id!r} depends on {target!r}, which is "
            f"{target_node.lifecycle}: expected an active service",
        )


def _neighbours(state: _State, target: str) -> list[str]:
    # Comparing against every id would be slow on big catalogs; a typo rarely changes the start.
    return [i for i in state.kinds if i[:2] == target[:2] and abs(len(i) - len(target)) <= 3]


def _check_group(state: _State, owner: _Owner, file: str, loc: Loc, dep: RedundancyGroup) -> None:
    count = len(dep.members)
    if not 1 <= dep.quorum <= count:
        state.fail(
            file,
            (*loc, "quorum"),
            f"impossible quorum {dep.quorum} for group {dep.group!r} with {count} "
            f"member{'s' if count != 1 else ''}: expected 1 <= quorum <= {count}",
        )
    first_at: dict[str, int] = {}
    for index, member in enumerate(dep.members):
        member_loc = (*loc, "members", index)
        if member in first_at:
            state.fail(
                file,
                member_loc,
                f"duplicate member {member!r} in group {dep.group!r}: expected each member "
                f"once; also at members[{first_at[member]}]",
            )
            continue
        first_at[member] = index
        _check_target(state, owner, file, member_loc, member)


def _check_personas(state: _State, service: BusinessService, file: str, base: Loc) -> None:
    names: dict[str, int] = {}
    for index, persona in enumerate(service.personas):
        loc = (*base, "personas", index)
        if persona.name in names:
            state.fail(
                file,
                (*loc, "name"),
                f"duplicate persona {persona.name!r}: also at personas[{names[persona.name]}]",
            )
        names.setdefault(persona.name, index)
        if persona.users > service.users:
            state.fail(
                file,
                (*loc, "users"),
                f"persona has {persona.users} users but the service has {service.users}: "
                "expected at most the service's user count",
            )


def _dependency_order(state: _State) -> list[str]:
    """Order nodes so that each comes after what it needs; report every cycle found on the way."""
    order, cycles = dependency_order(list(state.nodes), state.targets)
    for names in cycles:
        first = state.nodes[names[0]]
        place = state.places[names[0]]
        dep_index = _dependency_index(first, names[1 % len(names)])
        state.fail(
            place.file,
            (*place.loc[:-1], "dependencies", dep_index),
            f"dependency cycle {' -> '.join([*names, names[0]])}: expected dependencies "
            "without loops; remove or reverse one of these edges",
        )
    return order


def _dependency_index(node: Node, target: str) -> int:
    for index, dep in enumerate(node.dependencies):
        if (isinstance(dep, Requires) and dep.to == target) or (
            isinstance(dep, RedundancyGroup) and target in dep.members
        ):
            return index
    raise AssertionError(f"{node.id} has no dependency on {target}")
