"""Catalog files on disk and `impactline catalog validate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from impactline.cli import catalog as catalog_cli
from impactline.core.catalog import CatalogInvalid, CatalogUnreadable, load_catalog

GOOD_SERVICES = """\
services:
  - id: financial-close
    name: Financial Close
    owner: Group Financial Controller
    tier: 1
    users: 120
    domain: finance
    dependencies:
      - to: gl-ledger
"""
GOOD_CIS = """\
cis:
  - id: gl-ledger
    type: app
    owner: ERP Team
    dependencies:
      - to: db-gl-01
  - id: db-gl-01
    type: database
    owner: Database Team
  - id: link-lds
    type: link
    owner: Network Team
"""
BROKEN_CIS = """\
cis:
  - id: gl-ledger
    type: app
    owner: ERP Team
    dependencies:
      - to: db-gl-1
  - id: db-gl-01
    type: databse
    owner: Database Team
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(catalog_cli.app, name="catalog")
    return root


def test_a_directory_is_read_as_one_catalog(tmp_path: Path) -> None:
    write(tmp_path, "services.yaml", GOOD_SERVICES)
    write(tmp_path, "cis.yml", GOOD_CIS)
    write(tmp_path, "README.md", "not a catalog file")
    catalog = load_catalog([tmp_path])
    assert set(catalog.services) == {"financial-close"}
    assert catalog.graph.services_affected_by("db-gl-01") == {"financial-close"}


def test_rule_errors_carry_the_yaml_line(tmp_path: Path) -> None:
    services = write(tmp_path, "services.yaml", GOOD_SERVICES)
    cis = write(tmp_path, "cis.yaml", BROKEN_CIS)
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog([services, cis])
    assert not isinstance(caught.value, CatalogUnreadable)
    assert [str(e) for e in caught.value.errors] == [
        f"{cis}:cis[0].dependencies[0].to: unknown id 'db-gl-1' (did you mean 'db-gl-01'?): "
        "expected the id of a CI defined in one of the catalog files (line 6)",
        f"{cis}:cis[1].type: expected 'host', 'vm', 'container', 'database', 'app', 'link', "
        "'saas', 'storage', 'load-balancer', 'queue', 'dns' or 'identity'; found 'databse' "
        "(did you mean 'database'?) (line 8)",
    ]


def test_bad_yaml_and_missing_files_are_unreadable_with_line_numbers(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "cis:\n  - id: a\n    type: host\n   owner: x\n")
    missing = tmp_path / "missing.yaml"
    with pytest.raises(CatalogUnreadable) as caught:
        load_catalog([bad, missing])
    first, second = caught.value.errors
    assert first.file == str(bad) and first.line == 4 and "not valid YAML" in first.message
    assert second.file == str(missing) and "cannot read the file" in second.message


def test_validate_prints_a_summary_for_a_good_catalog(tmp_path: Path, cli: typer.Typer) -> None:
    write(tmp_path, "services.yaml", GOOD_SERVICES)
    write(tmp_path, "cis.yaml", GOOD_CIS)
    result = CliRunner().invoke(cli, ["catalog", "validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok: 1 service, 3 CIs, 2 domains\n"


def test_validate_lists_every_error_and_exits_1(tmp_path: Path, cli: typer.Typer) -> None:
    services = write(tmp_path, "services.yaml", GOOD_SERVICES)
    cis = write(tmp_path, "cis.yaml", BROKEN_CIS)
    result = CliRunner().invoke(cli, ["catalog", "validate", str(services), str(cis)])
    assert result.exit_code == 1
    assert f"{cis}:cis[0].dependencies[0].to: unknown id 'db-gl-1'" in result.stderr
    assert f"{cis}:cis[1].type: expected 'host'" in result.stderr
    assert result.stderr.rstrip().endswith("2 errors")


def test_validate_exits_2_on_bad_yaml(tmp_path: Path, cli: typer.Typer) -> None:
    bad = write(tmp_path, "bad.yaml", "services: [unclosed\n")
    result = CliRunner().invoke(cli, ["catalog", "validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: not valid YAML" in result.stderr
    assert "(line 2)" in result.stderr


def test_validate_has_help(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["catalog", "validate", "--help"])
    assert result.exit_code == 0
    assert "Exit status" in result.stdout


def test_json_exports_are_read_alongside_yaml(tmp_path: Path) -> None:
    write(tmp_path, "services.yaml", GOOD_SERVICES)
    cis = [
        {"id": "gl-ledger", "type": "app", "owner": "ERP", "dependencies": [{"to": "db-gl-01"}]},
        {"id": "db-gl-01", "type": "database", "owner": "DBA"},
    ]
    write(tmp_path, "cmdb-export.json", json.dumps({"cis": cis}))
    assert set(load_catalog([tmp_path]).cis) == {"gl-ledger", "db-gl-01"}
    write(tmp_path, "cmdb-export.json", '{"cis": [\n  {"id": "x",}\n]}')
    with pytest.raises(CatalogUnreadable) as caught:
        load_catalog([tmp_path])
    [error] = caught.value.errors
    assert error.file.endswith("cmdb-export.json") and error.line == 2
    assert "not valid JSON" in error.message
