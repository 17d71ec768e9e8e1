"""Catalog rules about binding: the `bindings` section of each document and CI aliases.

Each rule is validated on its own so one broken rule does not hide the others; names must be
unique across documents, and every alias must name exactly one CI (aliases are compared without
regard to case, and an alias may not be another CI's id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from impactline.core.catalog.bindings import BindingRule
from impactline.core.catalog.errors import CatalogError, Loc, format_path
from impactline.core.catalog.field_errors import describe_found, field_errors
from impactline.core.catalog.model import BINDINGS, ConfigurationItem, Node

_RULES: TypeAdapter[list[BindingRule]] = TypeAdapter(list[BindingRule])


Indexed = list[tuple[int, BindingRule]]
"""The valid rules of a document, each with its position in the file's list."""


def read_bindings(file: str, raw: Any, errors: list[CatalogError]) -> Indexed:
    """The valid rules of one document's `bindings` list; every broken one is reported."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(CatalogError(file, (BINDINGS,), f"expected a list; found {_found(raw)}"))
        return []
    try:
        return list(enumerate(_RULES.validate_python(raw)))
    except ValidationError:
        pass
    rules: Indexed = []
    for index, entry in enumerate(raw):
        try:
            rules.append((index, BindingRule.model_validate(entry)))
        except ValidationError as exc:
            errors.extend(field_errors(file, (BINDINGS, index), BindingRule, exc))
    return rules


def check_rule_names(bindings: Mapping[str, Indexed]) -> list[CatalogError]:
    """Rule names are what events record, so each may be used once in the whole catalog."""
    errors: list[CatalogError] = []
    first: dict[str, str] = {}
    for file, rules in bindings.items():
        for index, rule in rules:
            where = f"{file}:{BINDINGS}[{index}]"
            if rule.name in first:
                errors.append(
                    CatalogError(
                        file,
                        (BINDINGS, index, "name"),
                        f"duplicate rule name {rule.name!r}: expected names unique across all "
                        f"catalog files; already used at {first[rule.name]}",
                    )
                )
            first.setdefault(rule.name, where)
    return errors


def check_aliases(
    nodes: Mapping[str, Node], place_of: Callable[[str], tuple[str, Loc]]
) -> list[CatalogError]:
    """Every alias names one CI: not twice, not another CI's id (case does not matter)."""
    errors: list[CatalogError] = []
    ids = {node_id.lower(): node_id for node_id, n in nodes.items() if type(n) is ConfigurationItem}
    owner: dict[str, tuple[str, str]] = {}  # lower-case alias -> (CI id, where)
    for node_id, node in nodes.items():
        if type(node) is not ConfigurationItem or not node.aliases:
            continue
        file, loc = place_of(node_id)
        for index, alias in enumerate(node.aliases):
            at = (*loc, "aliases", index)
            folded = alias.lower()
            other_id = ids.get(folded)
            if other_id is not None and other_id != node_id:
                errors.append(
                    CatalogError(
                        file,
                        at,
                        f"alias {alias!r} is the id of CI {other_id!r}: expected an alias to "
                        "name only this CI",
                    )
                )
                continue
            taken = owner.get(folded)
            if taken is not None:
                other, where = taken
                same = "this CI" if other == node_id else f"CI {other!r}"
                errors.append(
                    CatalogError(
                        file,
                        at,
                        f"alias {alias!r} is also an alias of {same} at {where}: expected each "
                        "alias once in the catalog (case does not matter)",
                    )
                )
                continue
            owner[folded] = (node_id, f"{file}:{format_path(at)}")
    return errors


def _found(value: Any) -> str:
    return describe_found(value)
