"""Read catalog files from disk: the only module of the catalog that does I/O.

Catalog files are YAML; `.json` files are read as JSON, which suits large machine-made exports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from impactline.core import yaml_limits
from impactline.core.catalog.bulk import collector_paused
from impactline.core.catalog.catalog import Catalog
from impactline.core.catalog.errors import CatalogError, CatalogInvalid, CatalogUnreadable, Loc

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
CATALOG_SUFFIXES = (".yaml", ".yml", ".json")


def catalog_files(paths: Iterable[Path]) -> list[Path]:
    """Expand directories into the catalog files directly inside them (sorted by name)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in CATALOG_SUFFIXES))
        else:
            out.append(path)
    return out


def load_catalog(paths: Iterable[Path]) -> Catalog:
    """Parse and validate catalog files (directories are expanded) into one catalog.

    Raises `CatalogUnreadable` when a file cannot be read or parsed (every such file is named,
    with the YAML line), `CatalogInvalid` when the content breaks catalog rules (every error is
    named, with file, path and YAML line).
    """
    files = catalog_files(paths)
    if not files:
        raise CatalogUnreadable([CatalogError("<no files>", (), "no catalog files were given")])
    with collector_paused():
        docs, texts = _read(files)
        try:
            return Catalog.from_documents(docs)
        except CatalogInvalid as exc:
            raise CatalogInvalid(_with_lines(exc.errors, texts, files)) from None


def _read(files: list[Path]) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    docs: list[tuple[str, Any]] = []
    texts: dict[str, str] = {}
    problems: list[CatalogError] = []
    for path in files:
        name = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(CatalogError(name, (), f"cannot read the file: {_reason(exc)}"))
            continue
        try:
            docs.append((name, _parse(path, text)))
        except yaml.YAMLError as exc:
            problems.append(_yaml_problem(name, exc))
            continue
        except json.JSONDecodeError as exc:
            problems.append(CatalogError(name, (), f"not valid JSON: {exc.msg}", exc.lineno))
            continue
        if path.suffix != ".json":
            texts[name] = text
    if problems:
        raise CatalogUnreadable(problems)
    return docs, texts


def _parse(path: Path, text: str) -> Any:
    # JSON is a subset of YAML, but a JSON parser reads a machine-made export far faster.
    if path.suffix == ".json":
        return json.loads(text)
    return yaml_limits.load(text)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _yaml_problem(name: str, exc: yaml.YAMLError) -> CatalogError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    line = mark.line + 1 if mark is not None else None
    return CatalogError(name, (), message, line)


def _with_lines(
    errors: list[CatalogError], texts: dict[str, str], files: list[Path]
) -> list[CatalogError]:
    """Add the YAML line of each error's location; the file is parsed again only on this path."""
    roots: dict[str, yaml.Node | None] = {}
    out = []
    for error in errors:
        if error.file not in roots:
            text = texts.get(error.file)
            roots[error.file] = yaml.compose(text, Loader=_Loader) if text is not None else None
        line = _line_of(roots[error.file], error.loc)
        out.append(CatalogError(error.file, error.loc, error.message, line))
    position = {str(path): n for n, path in enumerate(files)}
    # Files in the order given, then top to bottom, as an editor shows them.
    return sorted(out, key=lambda e: (position.get(e.file, -1), e.line or 0))


def yaml_line(text: str, loc: Loc) -> int | None:
    """The line of `loc` (a path of keys and indexes) in YAML `text`, as near as it goes."""
    try:
        return _line_of(yaml.compose(text, Loader=_Loader), loc)
    except yaml.YAMLError:
        return None


def _line_of(node: yaml.Node | None, loc: Loc) -> int | None:
    """The line of the deepest YAML node found along `loc` (1-based)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
            if child is not None:
                line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line
