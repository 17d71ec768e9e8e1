"""Turn pydantic validation errors into catalog errors a person can act on.

Pydantic reports `('dependencies', 1, 'redundancy group', 'quorum')` and "Input should be a valid
integer"; a catalog author needs `dependencies[1].quorum: expected an integer; found 'two'`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from impactline.core.catalog.errors import CatalogError, Loc
from impactline.core.catalog.model import DEPENDENCY_TAGS, NodeId

_ID_PATTERN = next(m.pattern for m in get_args(NodeId)[1:] if getattr(m, "pattern", None))


def describe_found(value: Any) -> str:
    """A short description of a value found in a file, for "expected X; found Y" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """` (did you mean 'x'?)` when a close candidate exists, else an empty string."""
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _models_in(annotation: Any) -> list[tuple[str | None, type[BaseModel]]]:
    """Every model reachable inside a field annotation, with the union tag that leads to it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(None, annotation)]
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        tag = next((m.tag for m in meta if isinstance(m, Tag)), None)
        return [(tag or t, cls) for t, cls in _models_in(base)]
    found: list[tuple[str | None, type[BaseModel]]] = []
    for arg in get_args(annotation):
        found.extend(_models_in(arg))
    return found


@cache
def _models_by_path(root: type[BaseModel]) -> dict[tuple[str, ...], type[BaseModel]]:
    """Map each field path (names and union tags, no list indexes) to the model found there."""
    paths: dict[tuple[str, ...], type[BaseModel]] = {(): root}
    pending = [((), root)]
    while pending:
        prefix, model = pending.pop()
        for name, field in model.model_fields.items():
            for tag, inner in _models_in(field.annotation):
                key = (*prefix, name, *((tag,) if tag else ()))
                if key not in paths:
                    paths[key] = inner
                    pending.append((key, inner))
    return paths


def _allowed_fields(root: type[BaseModel], loc: tuple[str | int, ...]) -> tuple[str, ...]:
    key = tuple(part for part in loc if isinstance(part, str))
    model = _models_by_path(root).get(key)
    return tuple(model.model_fields) if model else ()


def _message(root: type[BaseModel], error: ErrorDetails) -> str:
    kind = error["type"]
    raw_loc = error["loc"]
    value = error.get("input")
    found = describe_found(value)
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(root, raw_loc[:-1])
        field = str(raw_loc[-1])
        hint = suggest(field, allowed) if allowed else ""
        listed = f"; expected one of: {', '.join(allowed)}" if allowed else ""
        return f"unexpected field {field!r}{hint}{listed}"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern == _ID_PATTERN:
            return (
                "expected an id made of letters, digits, '.', '_', ':' or '-', starting with a "
                f"letter or digit; found {found}"
            )
        if pattern == r"^[A-Z]{3}$":
            return f"expected a three-letter ISO currency code such as 'GBP'; found {found}"
    if kind == "string_type" and isinstance(value, int | float | bool):
        return f"expected a string; found {found} (quote it in YAML to keep it text)"
    if kind == "dependency_shape":
        return f"{error['msg']}; found {found}"
    msg = error["msg"]
    if kind == "enum" and isinstance(value, str):
        choices = re.findall(r"'([^']*)'", (error.get("ctx") or {}).get("expected", ""))
        return f"expected {error['ctx']['expected']}; found {found}{suggest(value, choices)}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if msg.startswith("Input should be "):
        return f"expected {msg.removeprefix('Input should be ')}; found {found}"
    return f"{msg[:1].lower()}{msg[1:]}; found {found}"


def field_errors(
    file: str, prefix: Loc, root: type[BaseModel], exc: ValidationError
) -> list[CatalogError]:
    """One catalog error per pydantic error, located at `prefix` + the field path in the file."""
    out: list[CatalogError] = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p in DEPENDENCY_TAGS))
        out.append(CatalogError(file, (*prefix, *loc), _message(root, error)))
    return out
