"""`impactline schemas`: the documents under docs/ that describe every topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from impactline.core.schemas import asyncapi_document, json_schemas

app = typer.Typer(help="Generate or check the topic JSON Schemas and AsyncAPI document.")


def rendered() -> dict[str, str]:
    """Relative path -> file content, exactly as committed under docs/."""
    files = {
        f"schemas/{name}": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in json_schemas().items()
    }
    files["asyncapi.yaml"] = yaml.safe_dump(asyncapi_document(), sort_keys=False, width=100)
    return files


@app.command()
def write(
    docs: Annotated[Path, typer.Option(help="The docs folder.")] = Path("docs"),
    check: Annotated[bool, typer.Option(help="Only report drift; exit 1 if any.")] = False,
) -> None:
    """Write docs/schemas/*.json and docs/asyncapi.yaml from the contracts."""
    drift = []
    for rel, content in rendered().items():
        path = docs / rel
        if path.exists() and path.read_text() == content:
            continue
        drift.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if check and drift:
        typer.echo(f"out of date: {', '.join(drift)}; run `impactline schemas write`", err=True)
        raise typer.Exit(1)
    typer.echo(f"{'checked' if check else 'wrote'} {len(rendered())} files under {docs}/")
