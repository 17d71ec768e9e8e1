"""Catalog import from Backstage and ServiceNow: what maps to what, what a person must supply,
and re-imports that keep what people added by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from impactline.cli.main import app
from impactline.core.catalog import Catalog, load_catalog
from impactline.core.catalog_import import import_entities, import_exports
from tests.import_exports import write_backstage, write_servicenow

# Written from Backstage's descriptor format: kinds, spec fields and annotations as documented.
BACKSTAGE = """
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: finance}
spec: {owner: group:finance-it}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: finance-it}
spec: {type: team, profile: {displayName: Finance IT}, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: general-ledger, title: General Ledger, description: Books and closes the month}
spec: {owner: finance-it, domain: finance}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: gl-api
  annotations:
    backstage.io/kubernetes-id: gl-api
    backstage.io/kubernetes-namespace: erp
  tags: [java]
spec:
  type: service
  lifecycle: production
  owner: group:default/finance-it
  system: general-ledger
  providesApis: [gl-postings]
  dependsOn: [resource:gl-db]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: close-ui}
spec:
  type: website
  lifecycle: production
  owner: finance-it
  system: general-ledger
  consumesApis: [gl-postings]
  dependsOn: [component:missing-thing]
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: money-utils}
spec: {type: library, lifecycle: production, owner: finance-it}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: gl-db}
spec: {type: database, owner: group:finance-it, system: general-ledger}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: gl-postings}
spec: {type: openapi, lifecycle: production, owner: finance-it, definition: "openapi: 3.0.0"}
---
apiVersion: backstage.io/v1alpha1
kind: Location
metadata: {name: everything}
spec: {targets: [./catalog-info.yaml]}
"""


def _ref(value: str, display: str | None = None) -> dict[str, str]:
    out = {"link": f"https://example.service-now.com/api/now/table/x/{value}", "value": value}
    return {**out, "display_value": display} if display else out


# Written from the ServiceNow Table API's export shape and CMDB field names.
SERVICENOW: list[dict[str, Any]] = [
    {
        "result": [
            {
                "sys_id": "s1",
                "name": "Financial Close",
                "sys_class_name": "cmdb_ci_service_business",
                "service_classification": "Business Service",
                "busines_criticality": "1 - most critical",
                "business_unit": _ref("bu1", "Finance"),
                "owned_by": _ref("u1", "Jane Controller"),
                "install_status": "1",
            },
            {
                "sys_id": "s2",
                "name": "ERP Platform",
                "sys_class_name": "cmdb_ci_service_technical",
                "service_classification": "Technical Service",
                "support_group": _ref("g1", "ERP Team"),
                "install_status": "1",
            },
        ]
    },
    {
        "result": [
            {
                "sys_id": "c1",
                "name": "DB-GL-01",
                "sys_class_name": "cmdb_ci_db_postgresql_instance",
                "support_group": {"display_value": "Database Team", "value": "g2"},
                "install_status": "1",
            },
            {
                "sys_id": "c2",
                "name": "lnxgl01",
                "sys_class_name": "cmdb_ci_linux_server",
                "fqdn": "lnxgl01.corp.example.com",
                "host_name": "lnxgl01",
                "ip_address": "10.20.0.11",
                "support_group": _ref("g3", "Platform Team"),
                "install_status": "1",
            },
            {
                "sys_id": "c3",
                "name": "old-server",
                "sys_class_name": "cmdb_ci_linux_server",
                "install_status": "7",
            },
        ]
    },
    {
        "result": [
            {
                "sys_id": "r1",
                "parent": _ref("s1"),
                "child": _ref("s2"),
                "type": _ref("t", "Depends on::Used by"),
            },
            {
                "sys_id": "r2",
                "parent": _ref("s2"),
                "child": _ref("c1"),
                "type": _ref("1a9cb166f1571100a92eb60da2bce5c5"),
            },
            {
                "sys_id": "r3",
                "parent": _ref("c1"),
                "child": _ref("c2"),
                "type": _ref("t2", "Runs on::Runs"),
            },
            {
                "sys_id": "r4",
                "parent": _ref("c2"),
                "child": _ref("c1"),
                "type": _ref("t3", "Depends on::Used by"),
            },
            {
                "sys_id": "r5",
                "parent": _ref("c1"),
                "child": _ref("c3"),
                "type": _ref("t2", "Runs on::Runs"),
            },
            {
                "sys_id": "r6",
                "parent": _ref("c2"),
                "child": _ref("s1"),
                "type": _ref("t3", "Depends on::Used by"),
            },
            {
                "sys_id": "r7",
                "parent": _ref("c1"),
                "child": _ref("c2"),
                "type": _ref("t4", "Contains::Contained by"),
            },
        ]
    },
]


def entry(doc: dict[str, Any], section: str, node_id: str) -> dict[str, Any]:
    return next(e for e in doc[section] if e["id"] == node_id)


def test_backstage_entities_map_to_services_and_cis() -> None:
    doc, report = import_entities(list(yaml.safe_load_all(BACKSTAGE)))
    Catalog.from_documents([("backstage.yaml", doc)])  # valid as it is
    service = entry(doc, "services", "general-ledger")
    assert (service["name"], service["owner"], service["domain"]) == (
        "General Ledger",
        "Finance IT",
        "finance",
    )
    assert service["dependencies"] == [{"to": "close-ui"}, {"to": "gl-api"}, {"to": "gl-db"}]
    api = entry(doc, "cis", "gl-api")
    assert (api["type"], api["owner"], api["aliases"]) == ("app", "Finance IT", ["erp/gl-api"])
    assert api["dependencies"] == [{"to": "gl-db"}]
    assert api["attributes"]["backstage.ref"] == "component:default/gl-api"
    # Consuming an API is a dependency on the component that provides it.
    assert entry(doc, "cis", "close-ui")["dependencies"] == [{"to": "gl-api"}]
    assert entry(doc, "cis", "gl-db")["type"] == "database"
    assert "money-utils" not in {c["id"] for c in doc["cis"]}
    assert report.skipped["a library component is not run, so it is no CI"] == [
        "component:default/money-utils"
    ]
    [dropped] = report.warnings["dependsOn an entity that is not an imported CI, dropped"]
    assert dropped.endswith("component:missing-thing")
    [(what, ids)] = report.to_supply.items()
    assert what.startswith("tier and users") and ids == ["general-ledger"]


def test_servicenow_exports_map_to_services_cis_and_dependencies() -> None:
    doc, report = import_exports(SERVICENOW)
    Catalog.from_documents([("servicenow.yaml", doc)])
    service = entry(doc, "services", "financial-close")
    assert (service["tier"], service["owner"], service["domain"]) == (
        1,
        "Jane Controller",
        "finance",
    )
    assert service["dependencies"] == [{"to": "erp-platform"}]
    assert entry(doc, "technical_services", "erp-platform")["dependencies"] == [{"to": "db-gl-01"}]
    db = entry(doc, "cis", "db-gl-01")
    assert (db["type"], db["owner"], db["name"]) == ("database", "Database Team", "DB-GL-01")
    assert "aliases" not in db  # its name is its id but for case, which binding ignores
    host = entry(doc, "cis", "lnxgl01")
    assert host["type"] == "host" and host["attributes"]["ip"] == "10.20.0.11"
    assert host["aliases"] == ["lnxgl01.corp.example.com"]
    # A loop (db runs on the host, the host depends on the db) loses one edge, reported.
    deps = {c["id"]: [d["to"] for d in c["dependencies"]] for c in doc["cis"]}
    assert (deps["db-gl-01"], deps["lnxgl01"]) in ((["lnxgl01"], []), ([], ["db-gl-01"]))
    assert report.warnings["dependency loop broken by dropping an edge"]
    assert report.skipped["retired (install_status 7)"] == ["old-server"]
    assert report.skipped["relationship type Contains::Contained by is no dependency"]
    assert report.warnings["relationship against the catalog's layering, dropped"]
    assert report.warnings["relationship to a record not in the export (or retired), dropped"]


def test_generated_exports_import_into_a_valid_catalog(tmp_path: Path) -> None:
    (tmp_path / "bs").mkdir()
    (tmp_path / "sn").mkdir()
    write_backstage(tmp_path / "bs", 200)
    write_servicenow(tmp_path / "sn", 1000)
    runner = CliRunner()
    for source, folder, output in (
        ("backstage", "bs", "backstage.yaml"),
        ("servicenow", "sn", "servicenow.json"),
    ):
        result = runner.invoke(
            app,
            ["catalog", "import", source, str(tmp_path / folder), "-o", str(tmp_path / output)],
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / output).with_name(Path(output).stem + ".import-report.md").exists()
    catalog = load_catalog([tmp_path / "backstage.yaml", tmp_path / "servicenow.json"])
    assert len(catalog.cis) == 1000 + 156  # 100 components (4 libraries left out) + 60 resources
    assert len(catalog.services) == 16 + 50


def test_a_reimport_keeps_what_people_added_by_hand(tmp_path: Path) -> None:
    source = tmp_path / "catalog-info.yaml"
    source.write_text(BACKSTAGE)
    output = tmp_path / "backstage.yaml"
    command = ["catalog", "import", "backstage", str(source), "-o", str(output)]
    assert CliRunner().invoke(app, command).exit_code == 0
    # A person completes the file.
    doc = yaml.safe_load(output.read_text())
    service = entry(doc, "services", "general-ledger")
    service.update(
        tier=1,
        users=120,
        calendar="uk-finance",
        personas=[{"name": "Controllers", "stakeholder": "experience-approver", "users": 8}],
    )
    service["dependencies"].append({"to": "auth-proxy"})
    doc["cis"].append({"id": "auth-proxy", "type": "app", "owner": "Identity Team"})
    db = entry(doc, "cis", "gl-db")
    db["aliases"] = ["gl-db.corp.example.com"]
    db["attributes"]["ip"] = "10.20.0.11"
    doc["bindings"] = [{"name": "hosts", "labels": ["instance"], "normalise": ["strip-port"]}]
    output.write_text(yaml.safe_dump(doc, sort_keys=False))
    # Backstage changes meanwhile: a new owner and a new component.
    changed = BACKSTAGE.replace(
        "spec: {type: database, owner: group:finance-it", "spec: {type: database, owner: group:dba"
    )
    changed += (
        "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: gl-batch}\n"
        "spec: {type: service, lifecycle: production, owner: finance-it, system: general-ledger}\n"
    )
    source.write_text(changed)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    again = yaml.safe_load(output.read_text())
    service = entry(again, "services", "general-ledger")
    assert (service["tier"], service["users"], service["calendar"]) == (1, 120, "uk-finance")
    assert service["personas"][0]["name"] == "Controllers"
    assert {d["to"] for d in service["dependencies"]} == {
        "close-ui",
        "gl-api",
        "gl-db",
        "gl-batch",
        "auth-proxy",
    }
    db = entry(again, "cis", "gl-db")
    assert db["owner"] == "dba"  # the source owns it
    assert (db["aliases"], db["attributes"]["ip"]) == (["gl-db.corp.example.com"], "10.20.0.11")
    assert entry(again, "cis", "auth-proxy")["owner"] == "Identity Team"
    assert again["bindings"][0]["name"] == "hosts"
    report = (tmp_path / "backstage.import-report.md").read_text()
    assert (
        "kept, not in this import (written by hand, or gone from the source) (1): `auth-proxy`"
        in report
    )
    assert "new from the import (1): `gl-batch`" in report
    Catalog.from_documents([("backstage.yaml", again)])


def test_an_import_that_would_break_the_catalog_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "catalog-info.yaml"
    source.write_text(BACKSTAGE)
    output = tmp_path / "backstage.yaml"
    output.write_text(
        yaml.safe_dump({"cis": [{"id": "gl-db", "type": "database", "owner": "x", "colour": 1}]})
    )
    before = output.read_text()
    result = CliRunner().invoke(
        app, ["catalog", "import", "backstage", str(source), "-o", str(output)]
    )
    assert result.exit_code == 1
    assert "unexpected field 'colour'" in result.output
    assert output.read_text() == before


def test_an_unreadable_export_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "cmdb_ci.json"
    bad.write_text(json.dumps({"records": []}))
    result = CliRunner().invoke(
        app, ["catalog", "import", "servicenow", str(bad), "-o", str(tmp_path / "o.yaml")]
    )
    assert result.exit_code == 2
    assert "Table API export" in result.output
