"""Synthetic catalogs in the formats people export them in, of any size, deterministic by seed.

- Backstage: entity descriptors (`apiVersion: backstage.io/v1alpha1`) of every kind the import
  reads: Domain, Group, System, Component (services, websites, libraries), Resource, API; with
  `spec.owner`, `spec.system`, `spec.domain`, `spec.lifecycle`, `spec.dependsOn`,
  `spec.providesApis`/`consumesApis` and Kubernetes annotations.
- ServiceNow: Table API exports (`{"result": [...]}`) of `cmdb_ci_service`, of CIs of several
  `cmdb_ci_*` classes and of `cmdb_rel_ci`, references as `{"link", "value"}` and, in part,
  with display values (`sysparm_display_value=all`).

Run `python -m tests.import_exports --backstage 1000 --servicenow 10000 DIR` to write both at
full size into DIR and time their import (the tests use smaller sizes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

import yaml

DEPENDS_ON = "1a9cb166f1571100a92eb60da2bce5c5"
INSTANCE = "https://example.service-now.com"


def backstage_entities(count: int, seed: int = 0) -> list[dict[str, Any]]:
    """`count` entities: about 2% domains and groups, 8% systems, 10% APIs, 50% components
    and the rest resources."""
    rng = random.Random(seed)
    domains = [f"domain-{n}" for n in range(max(1, count // 100))]
    groups = [f"team-{n}" for n in range(max(1, count // 100))]
    systems = [f"system-{n}" for n in range(max(1, count * 8 // 100))]
    apis = [f"api-{n}" for n in range(max(1, count // 10))]
    n_components = max(1, count // 2)
    n_resources = max(
        1, count - len(domains) - len(groups) - len(systems) - len(apis) - n_components
    )
    out: list[dict[str, Any]] = []
    for name in domains:
        out.append(_entity("Domain", name, {"owner": f"group:{rng.choice(groups)}"}))
    for n, name in enumerate(groups):
        out.append(
            _entity(
                "Group",
                name,
                {"type": "team", "profile": {"displayName": f"Team {n}"}, "children": []},
            )
        )
    for name in systems:
        spec = {"owner": f"group:default/{rng.choice(groups)}", "domain": rng.choice(domains)}
        out.append(_entity("System", name, spec, title=name.replace("-", " ").title()))
    resources = [f"resource-{n}" for n in range(n_resources)]
    for name in resources:
        spec = {
            "type": rng.choice(["database", "s3-bucket", "queue", "database", "cache"]),
            "owner": f"group:{rng.choice(groups)}",
            "system": rng.choice(systems),
        }
        out.append(_entity("Resource", name, spec))
    providers: dict[str, str] = {}
    for n in range(n_components):
        name = f"component-{n}"
        kind = "library" if n % 25 == 0 else rng.choice(["service", "service", "website"])
        spec: dict[str, Any] = {
            "type": kind,
            "lifecycle": rng.choice(["production", "production", "experimental"]),
            "owner": f"group:{rng.choice(groups)}",
            "system": rng.choice(systems),
            "dependsOn": [f"resource:{rng.choice(resources)}" for _ in range(rng.randint(0, 2))],
        }
        if kind == "service" and len(providers) < len(apis):
            api = apis[len(providers)]
            providers[api] = name
            spec["providesApis"] = [api]
        elif providers and rng.random() < 0.5:
            spec["consumesApis"] = [rng.choice(sorted(providers))]
        annotations = {"github.com/project-slug": f"example/{name}"}
        if kind != "library":
            annotations["backstage.io/kubernetes-id"] = name
            annotations["backstage.io/kubernetes-namespace"] = spec["system"]
        out.append(_entity("Component", name, spec, annotations=annotations))
    for api in apis:
        spec = {
            "type": "openapi",
            "lifecycle": "production",
            "owner": f"group:{rng.choice(groups)}",
            "definition": "openapi: 3.0.0",
        }
        out.append(_entity("API", api, spec))
    return out


def _entity(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    meta = {"name": name, "description": f"The {name} {kind.lower()}", **metadata}
    return {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": meta, "spec": spec}


def servicenow_exports(n_cis: int, seed: int = 0) -> dict[str, dict[str, Any]]:
    """File name -> Table API export: business services (a twentieth of `n_cis`) and exactly
    `n_cis` CIs (servers, VMs, databases, applications, load balancers), with relationships."""
    rng = random.Random(seed)
    n_services = max(1, n_cis // 20)
    n_servers = max(1, n_cis // 5)
    n_databases = max(1, n_cis // 5)
    n_lbs = max(1, n_cis // 20)
    n_apps = max(1, n_cis - n_servers * 2 - n_databases - n_lbs)
    services = [
        _record(
            f"Service {n}",
            "cmdb_ci_service_business",
            busines_criticality=_display(f"{rng.randint(1, 4)} - x"),
            service_classification="Business Service",
            business_unit=_display(rng.choice(["Finance", "Sales", "HR", "Logistics"])),
            owned_by=_ref(f"user-{n % 40}", f"Service Owner {n % 40}"),
        )
        for n in range(n_services)
    ]
    esx = [
        _record(f"esx{n:05d}", "cmdb_ci_esx_server", support_group=_ref("g1", "Platform"))
        for n in range(n_servers)
    ]
    vms = [
        _record(
            f"vm{n:05d}",
            rng.choice(["cmdb_ci_linux_server", "cmdb_ci_win_server"]),
            fqdn=f"vm{n:05d}.corp.example.com",
            host_name=f"vm{n:05d}",
            ip_address=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
            support_group=_ref("g1", "Platform"),
        )
        for n in range(n_servers)
    ]
    dbs = [
        _record(
            f"DB {n:05d}",
            "cmdb_ci_db_postgresql_instance",
            support_group=_ref("g2", "Database Team"),
        )
        for n in range(n_databases)
    ]
    lbs = [
        _record(f"lb{n:04d}", "cmdb_ci_lb_f5_ltm", support_group=_ref("g3", "Network"))
        for n in range(n_lbs)
    ]
    apps = [
        _record(f"app-{n:05d}", "cmdb_ci_appl", support_group=_ref("g4", "Application Team"))
        for n in range(n_apps)
    ]
    relations: list[dict[str, Any]] = []
    for n, vm in enumerate(vms):
        relations.append(_relation(vm, esx[n % len(esx)], "Hosted on::Hosts"))
    for n, db in enumerate(dbs):
        relations.append(_relation(db, vms[n % len(vms)], "Runs on::Runs"))
    for n, app in enumerate(apps):
        relations.append(_relation(app, vms[rng.randrange(len(vms))], "Runs on::Runs"))
        relations.append(_relation(app, dbs[rng.randrange(len(dbs))], None))
        if n % 7 == 0:
            relations.append(_relation(app, lbs[rng.randrange(len(lbs))], "Depends on::Used by"))
        relations.append(_relation(services[n % len(services)], app, None))
        if n % 50 == 0:
            relations.append(_relation(app, vms[0], "Members::Member of"))  # not a dependency
    return {
        "cmdb_ci_service.json": {"result": services},
        "cmdb_ci.json": {"result": [*esx, *vms, *dbs, *lbs, *apps]},
        "cmdb_rel_ci.json": {"result": relations},
    }


def _sys_id(*parts: str) -> str:
    return hashlib.md5("\x1f".join(parts).encode()).hexdigest()


def _display(text: str) -> dict[str, str]:
    return {"display_value": text, "value": text.split(" ")[0]}


def _ref(sys_id: str, display: str) -> dict[str, str]:
    return {
        "display_value": display,
        "link": f"{INSTANCE}/api/now/table/sys_user/{sys_id}",
        "value": sys_id,
    }


def _record(name: str, sys_class: str, **fields: Any) -> dict[str, Any]:
    return {
        "sys_id": _sys_id(sys_class, name),
        "name": name,
        "sys_class_name": sys_class,
        "install_status": "1",
        "operational_status": "1",
        **fields,
    }


def _relation(parent: dict[str, Any], child: dict[str, Any], kind: str | None) -> dict[str, Any]:
    table = f"{INSTANCE}/api/now/table/cmdb_ci/"
    rel_type: dict[str, str] = {
        "link": f"{INSTANCE}/api/now/table/cmdb_rel_type/{DEPENDS_ON}",
        "value": DEPENDS_ON,
    }
    if kind is not None:
        rel_type = {"display_value": kind, "value": _sys_id("rel", kind)}
    return {
        "sys_id": _sys_id("rel", parent["sys_id"], child["sys_id"], kind or ""),
        "parent": {"link": table + parent["sys_id"], "value": parent["sys_id"]},
        "child": {"link": table + child["sys_id"], "value": child["sys_id"]},
        "type": rel_type,
    }


def write_backstage(directory: Path, count: int, seed: int = 0) -> Path:
    path = directory / "catalog-info.yaml"
    path.write_text(yaml.safe_dump_all(backstage_entities(count, seed), sort_keys=False))
    return path


def write_servicenow(directory: Path, n_cis: int, seed: int = 0) -> list[Path]:
    paths = []
    for name, export in servicenow_exports(n_cis, seed).items():
        path = directory / name
        path.write_text(json.dumps(export))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--backstage", type=int, default=1000, help="Backstage entities")
    parser.add_argument("--servicenow", type=int, default=10_000, help="ServiceNow CIs")
    args = parser.parse_args()
    from typer.testing import CliRunner

    from impactline.cli.main import app

    for source, size, writer in (
        ("backstage", args.backstage, write_backstage),
        ("servicenow", args.servicenow, write_servicenow),
    ):
        folder = args.directory / source
        folder.mkdir(parents=True, exist_ok=True)
        writer(folder, size)
        output = args.directory / f"{source}.yaml"
        started = time.perf_counter()
        result = CliRunner().invoke(
            app, ["catalog", "import", source, str(folder), "--output", str(output)]
        )
        took = time.perf_counter() - started
        print(result.output.strip().splitlines()[-1] if result.output else "")
        print(f"{source}: {size} records imported in {took:.2f} s, exit status {result.exit_code}")


if __name__ == "__main__":
    main()
