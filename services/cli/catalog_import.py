"""`impactline catalog import backstage|servicenow`: catalog YAML from catalogs people already have.

Each command reads the source files, maps them (`impactline.core.catalog_import`), merges the
result with the output file when it exists (keeping what people added by hand), checks the
outcome as a catalog, and only then writes it, with a report beside it
(`<output>.import-report.md`) of what mapped and what a person must still supply.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from impactline.core.catalog import Catalog, CatalogInvalid, load_catalog
from impactline.core.catalog_import import ImportReport, import_entities, import_exports, merge
from impactline.core.catalog_import.servicenow import rows_of

app = typer.Typer(
    help="Write catalog YAML from a Backstage catalog or a ServiceNow CMDB export.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
EXIT_INVALID, EXIT_UNREADABLE = 1, 2

Output = Annotated[
    Path,
    typer.Option(
        "--output",
        "-o",
        help="The catalog file to write (.yaml, or .json: much faster for large imports); "
        "when it exists, the import is merged into it.",
    ),
]
Others = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        help="Other catalog files or folders the output is checked together with (repeatable).",
    ),
]
_EXIT = (
    "\n\nExit status: 0 when written, 1 when the merged result is not a valid catalog (nothing "
    "is written), 2 when a source file cannot be read."
)


@app.command(
    help="Import Backstage entity descriptors (catalog-info.yaml files: Component, System, "
    "Resource, API, Group, User, Domain; or a JSON array from the catalog API). Folders are "
    "searched for *.yaml, *.yml and *.json files." + _EXIT
)
def backstage(
    paths: Annotated[list[Path], typer.Argument(help="Descriptor files or folders.")],
    output: Output = Path("backstage.yaml"),
    catalog: Others = None,
) -> None:
    _run(
        "Backstage", paths, (".yaml", ".yml", ".json"), _entities, import_entities, output, catalog
    )


@app.command(
    help='Import ServiceNow Table API exports (JSON, {"result": [...]}) of cmdb_ci_service, '
    "cmdb_ci_* and cmdb_rel_ci; any number of files, in any order. Folders are searched for "
    "*.json files." + _EXIT
)
def servicenow(
    paths: Annotated[list[Path], typer.Argument(help="Export files or folders.")],
    output: Output = Path("servicenow.yaml"),
    catalog: Others = None,
) -> None:
    _run("ServiceNow", paths, (".json",), _json, import_exports, output, catalog)


def _run(
    source: str,
    paths: list[Path],
    suffixes: tuple[str, ...],
    read: Callable[[Path], list[Any]],
    mapper: Callable[[Iterable[Any]], tuple[dict[str, Any], ImportReport]],
    output: Path,
    others: list[Path] | None,
) -> None:
    started = time.perf_counter()
    files = _files(paths, suffixes)
    if not files:
        err.print(f"no {'/'.join(suffixes)} files in {', '.join(map(str, paths))}", markup=False)
        raise typer.Exit(EXIT_UNREADABLE)
    parsed: list[Any] = []
    for file in files:
        try:
            parsed.extend(read(file))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            err.print(f"{file}: cannot read it: {exc}", markup=False)
            raise typer.Exit(EXIT_UNREADABLE) from None
    err.print(f"read {len(files)} file(s)", markup=False)
    imported, report = mapper(parsed)
    existing = _existing(output)
    document = merge(imported, existing, report)
    try:
        extra = load_catalog(others).to_documents() if others else []
        Catalog.from_documents([*extra, (str(output), document)])
    except CatalogInvalid as exc:
        for error in exc.errors[:50]:
            err.print(str(error), markup=False)
        err.print(f"{len(exc.errors)} error(s); {output} was not written", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Imported from {source} by `impactline catalog import`; see "
        f"{_report_path(output).name} for what a person must still supply.\n"
        "# Hand-made changes (tiers, users, personas, calendars, aliases, extra entries) are kept "
        "when the import runs again.\n"
    )
    if output.suffix == ".json":  # large imports: JSON reads and writes far faster than YAML
        output.write_text(json.dumps(document, indent=1))
    else:
        output.write_text(header + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100))
    _report_path(output).write_text(report.markdown(str(output)))
    for line in report.summary():
        out.print(line, markup=False)
    counts = {s: len(document.get(s) or ()) for s in ("services", "technical_services", "cis")}
    out.print(
        f"wrote {output} ({counts['services']} business services, "
        f"{counts['technical_services']} technical services, {counts['cis']} CIs) and "
        f"{_report_path(output)} in {time.perf_counter() - started:.1f} s",
        markup=False,
    )


def _report_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.import-report.md")


def _files(paths: list[Path], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix in suffixes and p.is_file()))
        else:
            found.append(path)
    return found


def _entities(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        items = data.get("items", data) if isinstance(data, dict) else data
        return list(items) if isinstance(items, list) else [items]
    return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]


def _json(path: Path) -> list[Any]:
    export = json.loads(path.read_text(encoding="utf-8"))
    rows_of(export)  # the shape is checked here, so a wrong file is named
    return [export]


def _existing(output: Path) -> dict[str, Any] | None:
    if not output.exists():
        return None
    try:
        text = output.read_text(encoding="utf-8")
        loaded = json.loads(text) if output.suffix == ".json" else yaml.load(text, Loader=_Loader)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        err.print(f"{output}: cannot read the file to merge with: {exc}", markup=False)
        raise typer.Exit(EXIT_UNREADABLE) from None
    return loaded if isinstance(loaded, dict) else None
