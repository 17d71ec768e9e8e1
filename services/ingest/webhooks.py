"""Webhook mappings from files: one YAML file per mapping (`IMPACTLINE_INGEST_WEBHOOKS`).

Every file is checked and every error reported at once, each naming the file, the path inside
it and the line, the way catalog files are. Names must be unique and must not be one of the
built-in inputs; each CloudEvent type may be claimed by one mapping only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from impactline.core.catalog.errors import CatalogError
from impactline.core.catalog.field_errors import describe_found, field_errors
from impactline.core.catalog.loader import yaml_line
from impactline.ingest.adapters.webhook import WebhookMapping

BUILT_IN_INPUTS = frozenset(
    {"native", "alertmanager", "cloudevents", "pagerduty", "changes", "feedback", "raw"}
)
SUFFIXES = (".yaml", ".yml")
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class MappingsInvalid(Exception):
    def __init__(self, errors: Iterable[CatalogError]) -> None:
        self.errors = list(errors)
        count = len(self.errors)
        head = f"webhook mappings are invalid: {count} error{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(f"  {e}" for e in self.errors)]))


@dataclass(frozen=True)
class WebhookMappings:
    """The mappings ingest serves, by name and by the CloudEvent types they claim."""

    by_name: Mapping[str, WebhookMapping] = field(default_factory=dict)
    by_cloudevent_type: Mapping[str, WebhookMapping] = field(default_factory=dict)

    @classmethod
    def of(cls, mappings: Iterable[WebhookMapping]) -> WebhookMappings:
        listed = list(mappings)
        types = {t: m for m in listed for t in m.cloudevent_types}
        return cls({m.name: m for m in listed}, types)


def mapping_files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in SUFFIXES))
        elif path.exists():
            out.append(path)
    return out


def load_mappings(paths: Iterable[Path]) -> WebhookMappings:
    """Read and check mapping files (folders are expanded); `MappingsInvalid` lists every
    error. Paths that do not exist are skipped: no mappings is a valid setup."""
    errors: list[CatalogError] = []
    mappings: list[WebhookMapping] = []
    names: dict[str, str] = {}
    types: dict[str, str] = {}
    for path in mapping_files(paths):
        file = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            raw = yaml.load(text, Loader=_Loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            errors.append(CatalogError(file, (), f"cannot read the mapping: {exc}"))
            continue
        found = _check(file, text, raw, errors)
        if found is None:
            continue
        if found.name in BUILT_IN_INPUTS:
            errors.append(_at(file, text, ("name",), f"{found.name!r} is a built-in input"))
        elif found.name in names:
            errors.append(
                _at(
                    file,
                    text,
                    ("name",),
                    f"name {found.name!r} is also used by {names[found.name]}",
                )
            )
        names.setdefault(found.name, file)
        for index, ce_type in enumerate(found.cloudevent_types):
            if ce_type in types:
                message = f"CloudEvent type {ce_type!r} is also claimed by {types[ce_type]}"
                errors.append(_at(file, text, ("cloudevent_types", index), message))
            types.setdefault(ce_type, file)
        mappings.append(found)
    if errors:
        raise MappingsInvalid(errors)
    return WebhookMappings.of(mappings)


def _check(file: str, text: str, raw: Any, errors: list[CatalogError]) -> WebhookMapping | None:
    if not isinstance(raw, dict):
        errors.append(CatalogError(file, (), f"expected a mapping; found {describe_found(raw)}"))
        return None
    if "name" not in raw:
        raw = {**raw, "name": Path(file).stem}  # the file name is the default name
    try:
        return WebhookMapping.model_validate(raw)
    except ValidationError as exc:
        for error in field_errors(file, (), WebhookMapping, exc):
            errors.append(CatalogError(file, error.loc, error.message, yaml_line(text, error.loc)))
        return None


def _at(file: str, text: str, loc: tuple[str | int, ...], message: str) -> CatalogError:
    return CatalogError(file, loc, message, yaml_line(text, loc))
