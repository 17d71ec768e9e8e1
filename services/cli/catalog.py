"""`impactline catalog` commands."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import typer
from rich.console import Console

from impactline.cli.catalog_import import app as import_app
from impactline.core.catalog import CatalogInvalid, CatalogUnreadable, load_catalog

app = typer.Typer(
    help="Check and inspect the service catalog (business services, technical services, CIs).",
    no_args_is_help=True,
)


app.add_typer(import_app, name="import")


@app.callback()
def _group() -> None:
    """Keep `validate` a sub-command even while it is the only one."""


_VALIDATE_HELP = (
    "Check catalog files as one catalog and print a summary, or every error found "
    "(file:path: message).\n\n"
    "Exit status: 0 when valid, 1 when the catalog breaks a rule, "
    "2 when a file cannot be read or is not valid YAML (or JSON)."
)


@app.command(help=_VALIDATE_HELP)
def validate(
    files: list[Path] = typer.Argument(
        ...,
        help="Catalog files (YAML, or JSON for large exports), or directories of them.",
        show_default=False,
    ),
) -> None:
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    # A large catalog takes seconds to load; show that something is happening on a terminal.
    try:
        progress = errors.status("reading the catalog...") if errors.is_terminal else nullcontext()
        with progress:
            catalog = load_catalog(files)
            domains = len(catalog.graph.domains())
    except CatalogUnreadable as exc:
        for error in exc.errors:
            errors.print(str(error), markup=False)
        raise typer.Exit(2) from None
    except CatalogInvalid as exc:
        for error in exc.errors:
            errors.print(str(error), markup=False)
        count = len(exc.errors)
        errors.print(f"{count} error{'s' if count != 1 else ''}", markup=False)
        raise typer.Exit(1) from None
    counts = (
        _count(len(catalog.services), "service"),
        _count(len(catalog.cis), "CI"),
        _count(domains, "domain"),
    )
    typer.echo(f"ok: {', '.join(counts)}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


_LOAD_HELP = (
    "Validate catalog files as one catalog, store it as the new current version in PostgreSQL "
    "and publish it on the catalog topic, where the workers pick it up without a restart. "
    "Loading content equal to the current catalog stores nothing and publishes it again.\n\n"
    "Uses DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, or the embedded servers (started for the "
    "command and stopped afterwards when they were not running).\n\n"
    "Exit status: 0 when stored and published, 1 when the catalog breaks a rule, 2 when a file "
    "cannot be read or is not valid YAML (or JSON), 3 when the database or the broker is "
    "unavailable."
)


@app.command(help=_LOAD_HELP)
def load(
    files: list[Path] = typer.Argument(
        ...,
        help="Catalog files (YAML, or JSON for large exports), or directories of them.",
        show_default=False,
    ),
    created_by: str | None = typer.Option(
        None, "--created-by", help="Recorded with the version (default: cli:<login name>)."
    ),
    force: bool = typer.Option(
        False, "--force", help="Store even a catalog that removes every business service."
    ),
) -> None:
    from impactline.cli.catalog_load import load_command

    load_command(files, created_by, force)


@app.command()
def versions(
    limit: int = typer.Option(20, min=1, help="How many versions to list, newest first."),
) -> None:
    """List the stored catalog versions, newest first (the first one is current)."""
    from impactline.cli.catalog_load import versions_command

    versions_command(limit)
