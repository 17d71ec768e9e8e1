"""Synthetic catalogs of any size for benchmarks and property tests, deterministic by seed.

The shape follows a real estate: services are grouped into sites (one correlation domain each)
with their own network links and storage; hosts share storage and run several databases and
apps; apps sit behind redundancy groups of hosts and share databases; platform technical
services sit under product technical services, which business services use. A few business
services build on another one. Pipeline and retired services are sprinkled in.
"""

from __future__ import annotations

import random
from typing import Any

from impactline.core.catalog.catalog import Catalog

_DOMAINS = ("finance", "hr", "sales", "logistics", "workplace", "procurement", "marketing")
_STAKEHOLDERS = (
    "service-evaluator",
    "service-influencer",
    "resource-allocator",
    "experience-approver",
)
_CALENDARS = ("uk-finance", "us-sales", None)
SERVICES_PER_SITE = 20


def generate_catalog(
    n_services: int,
    n_cis: int,
    seed: int = 0,
    files: int = 10,
    services_per_site: int = SERVICES_PER_SITE,
) -> Catalog:
    """A valid catalog with exactly `n_services` business services and `n_cis` CIs."""
    return Catalog.from_documents(
        generate_documents(n_services, n_cis, seed, files, services_per_site)
    )


def generate_documents(
    n_services: int,
    n_cis: int,
    seed: int = 0,
    files: int = 10,
    services_per_site: int = SERVICES_PER_SITE,
) -> list[tuple[str, dict[str, Any]]]:
    """The catalog as documents (name -> mapping), as if read from `files` YAML files."""
    if n_services < 1 or n_cis < 1:
        raise ValueError("a generated catalog needs at least one business service and one CI")
    rng = random.Random(seed)
    sites = max(1, min(n_services // services_per_site, n_cis // 4 or 1))
    docs: list[dict[str, list[dict[str, Any]]]] = [
        {"services": [], "technical_services": [], "cis": []} for _ in range(max(1, files))
    ]
    for site in range(sites):
        doc = docs[site % len(docs)]
        site_services = _share(n_services, sites, site)
        site_cis = _share(n_cis, sites, site)
        cis, apps = _site_cis(rng, site, site_cis)
        techs = _technical_services(rng, site, site_services, apps)
        doc["cis"].extend(cis)
        doc["technical_services"].extend(techs)
        doc["services"].extend(_business_services(rng, site, site_services, techs))
    return [(f"generated/team-{n:03d}.yaml", doc) for n, doc in enumerate(docs)]


def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


def _ci(
    ci_id: str, kind: str, owner: str, deps: list[dict[str, Any]], **attrs: Any
) -> dict[str, Any]:
    return {"id": ci_id, "type": kind, "owner": owner, "attributes": attrs, "dependencies": deps}


def _needs(rng: random.Random, pool: list[str], k: int, quorum: int, name: str) -> dict[str, Any]:
    """A single required dependency, or a redundancy group when more than one member is drawn."""
    members = rng.sample(pool, min(k, len(pool)))
    if len(members) == 1:
        return {"to": members[0]}
    return {"group": name, "quorum": min(quorum, len(members)), "members": members}


def _site_cis(rng: random.Random, site: int, count: int) -> tuple[list[dict[str, Any]], list[str]]:
    """CIs of one site, in layers (links, storage, hosts, databases, apps); returns (CIs, apps)."""
    prefix = f"s{site:04d}"
    links = [f"{prefix}-link-{n}" for n in range(2 if count >= 40 else 1)]
    storage = [f"{prefix}-san-{n}" for n in range(max(1, count // 150) if count >= 20 else 0)]
    rest = count - len(links) - len(storage)
    n_hosts = max(1, rest * 45 // 100) if rest >= 3 else 1 if rest >= 2 else 0
    n_dbs = max(1, rest * 15 // 100) if rest >= 3 else 0
    n_apps = rest - n_hosts - n_dbs
    hosts = [f"{prefix}-host-{n:04d}" for n in range(n_hosts)]
    dbs = [f"{prefix}-db-{n:04d}" for n in range(n_dbs)]
    apps = [f"{prefix}-app-{n:04d}" for n in range(n_apps)]

    site_name = f"site-{site}"
    out = [_ci(link, "link", "Network Team", [], site=site_name) for link in links]
    out += [_ci(s, "storage", "Storage Team", [{"to": links[0]}], site=site_name) for s in storage]
    for host in hosts:
        deps = [_needs(rng, links, 2, 1, "uplinks")]
        if storage and rng.random() < 0.7:
            deps.append({"to": rng.choice(storage)})
        out.append(_ci(host, "host", "Platform Team", deps, cores=rng.choice((8, 16, 32))))
    for db in dbs:
        deps = [{"to": rng.choice(hosts or links)}]
        if storage:
            deps.append({"to": rng.choice(storage), "rule": "degrades"})
        out.append(_ci(db, "database", "Database Team", deps, engine="postgresql"))
    for index, app in enumerate(apps):
        deps = []
        if hosts:
            size = rng.choice((1, 1, 2, 2, 3))
            deps.append(_needs(rng, hosts, size, 1 if size < 3 else 2, "app-servers"))
        else:
            deps.append({"to": links[0]})
        if dbs and rng.random() < 0.8:
            deps.append({"to": rng.choice(dbs)})
        if index and rng.random() < 0.2:  # only earlier apps, so the app layer stays acyclic
            deps.append({"to": apps[rng.randrange(index)], "rule": "degrades"})
        out.append(_ci(app, "app", "Application Team", deps))
    if not apps:  # a tiny site: let services stand directly on whatever the site has
        apps = hosts or links
    return out, apps


def _technical_services(
    rng: random.Random, site: int, n_services: int, apps: list[str]
) -> list[dict[str, Any]]:
    """Platform services over apps, then product services over apps and platforms."""
    prefix = f"s{site:04d}"
    n_platforms = max(1, n_services // 4)
    n_products = max(1, n_services)
    out: list[dict[str, Any]] = []
    platforms = [f"{prefix}-platform-{n:03d}" for n in range(n_platforms)]
    for platform in platforms:
        deps = [_needs(rng, apps, rng.choice((1, 2)), 1, "instances")]
        out.append(
            {"id": platform, "name": platform, "owner": "Platform Team", "dependencies": deps}
        )
    for n in range(n_products):
        product = f"{prefix}-product-{n:03d}"
        targets = rng.sample(apps, min(len(apps), rng.choice((1, 2))))
        needs: list[dict[str, Any]] = [{"to": t} for t in targets]
        needs.append({"to": rng.choice(platforms), "rule": rng.choice(("required", "degrades"))})
        out.append({"id": product, "name": product, "owner": "Product Team", "dependencies": needs})
    return out


def _business_services(
    rng: random.Random, site: int, count: int, techs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    products = [t["id"] for t in techs if "-product-" in t["id"]]
    out: list[dict[str, Any]] = []
    active: list[str] = []
    for n in range(count):
        service_id = f"s{site:04d}-bs-{n:03d}"
        lifecycle = rng.choices(("active", "pipeline", "retired"), weights=(90, 5, 5))[0]
        users = rng.choice((5, 25, 120, 400, 1500, 6000))
        deps = [{"to": p} for p in rng.sample(products, min(len(products), rng.choice((1, 2))))]
        others = [p for p in products if p not in {d["to"] for d in deps}]
        if others and rng.random() < 0.5:
            deps.append({"to": rng.choice(others), "rule": "degrades"})
        if active and rng.random() < 0.05:
            deps.append({"to": rng.choice(active), "rule": "degrades"})
        out.append(
            {
                "id": service_id,
                "name": f"Service {site}-{n}",
                "owner": f"Business owner {n % 7}",
                "tier": rng.choice((1, 2, 2, 3, 3, 3, 4)),
                "lifecycle": lifecycle,
                "user_facing": rng.random() < 0.85,
                "users": users,
                "domain": rng.choice(_DOMAINS),
                "calendar": rng.choice(_CALENDARS),
                "personas": _personas(rng, users),
                "targets": {
                    "availability": rng.choice((99.0, 99.5, 99.9)),
                    "xla": 80,
                    "impact_minutes_budget": users * 30,
                },
                "dependencies": deps,
            }
        )
        if lifecycle == "active":
            active.append(service_id)
    return out


def _personas(rng: random.Random, users: int) -> list[dict[str, Any]]:
    kinds = rng.sample(_STAKEHOLDERS, rng.randint(1, 4))
    left = users
    personas = []
    for index, kind in enumerate(kinds):
        size = left if index == len(kinds) - 1 else rng.randint(0, left)
        left -= size
        personas.append(
            {
                "name": kind.replace("-", " "),
                "stakeholder": kind,
                "users": size,
                "weight": 1 + index,
            }
        )
    return personas
