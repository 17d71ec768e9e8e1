"""A broken catalog is reported completely, each error naming the file, the path and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from impactline.core.catalog import Catalog, CatalogError, CatalogInvalid, Lifecycle


def ci(ci_id: str, *deps: dict[str, Any], type: str = "host") -> dict[str, Any]:
    return {"id": ci_id, "type": type, "owner": "Platform Team", "dependencies": list(deps)}


def service(service_id: str, *deps: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"id": service_id, "name": service_id.title(), "owner": "Finance", "tier": 2}
    return {**base, "users": 10, "domain": "finance", "dependencies": list(deps), **fields}


def needs(target: str, rule: str = "required") -> dict[str, Any]:
    return {"to": target, "rule": rule}


def group(name: str, quorum: int, *members: str) -> dict[str, Any]:
    return {"group": name, "quorum": quorum, "members": list(members)}


def errors_of(*docs: tuple[str, Any]) -> list[CatalogError]:
    with pytest.raises(CatalogInvalid) as caught:
        Catalog.from_documents(docs)
    return caught.value.errors


def where(errors: list[CatalogError]) -> list[str]:
    return [f"{e.file}:{e.path}" for e in errors]


def test_a_valid_catalog_spread_over_files_loads() -> None:
    catalog = Catalog.from_documents(
        [
            ("finance.yaml", {"services": [service("financial-close", needs("db-gl-01"))]}),
            ("infra.yaml", {"cis": [ci("db-gl-01", type="database")]}),
        ]
    )
    assert set(catalog.services) == {"financial-close"}
    assert set(catalog.cis) == {"db-gl-01"}
    assert catalog.location_of("db-gl-01") == ("infra.yaml", "cis[0]")


def test_unknown_reference_names_file_path_and_suggests_the_close_id() -> None:
    [error] = errors_of(
        ("finance.yaml", {"services": [service("financial-close", needs("db-gl-1"))]}),
        ("infra.yaml", {"cis": [ci("db-gl-01")]}),
    )
    assert error.file == "finance.yaml"
    assert error.path == "services[0].dependencies[0].to"
    assert "unknown id 'db-gl-1'" in error.message
    assert "did you mean 'db-gl-01'" in error.message
    assert str(error).startswith("finance.yaml:services[0].dependencies[0].to: unknown id")


def test_duplicate_ids_name_both_places() -> None:
    [error] = errors_of(
        ("a.yaml", {"cis": [ci("db-gl-01")]}),
        ("b.yaml", {"cis": [ci("app-01"), ci("db-gl-01")]}),
    )
    assert (error.file, error.path) == ("b.yaml", "cis[1].id")
    assert "duplicate id 'db-gl-01'" in error.message
    assert "a.yaml:cis[0].id" in error.message


def test_dependency_cycle_is_named_in_order() -> None:
    [error] = errors_of(
        (
            "loop.yaml",
            {
                "cis": [
                    ci("c", needs("a")),
                    ci("a", needs("b")),
                    ci("b", needs("c")),
                    ci("d", needs("a")),  # waits on the loop but is not part of it
                ]
            },
        )
    )
    assert "dependency cycle a -> b -> c -> a" in error.message
    assert (error.file, error.path) == ("loop.yaml", "cis[1].dependencies[0]")


def test_a_node_needing_itself_is_a_cycle() -> None:
    [error] = errors_of(("x.yaml", {"cis": [ci("a", needs("a"))]}))
    assert "dependency cycle a -> a" in error.message


def test_impossible_quorums_are_rejected() -> None:
    errors = errors_of(
        (
            "g.yaml",
            {
                "cis": [
                    ci("h1"),
                    ci("h2"),
                    ci("app", group("too-many", 3, "h1", "h2"), group("none", 0, "h1", "h2")),
                ]
            },
        )
    )
    assert where(errors) == [
        "g.yaml:cis[2].dependencies[0].quorum",
        "g.yaml:cis[2].dependencies[1].quorum",
    ]
    assert "impossible quorum 3 for group 'too-many' with 2 members" in errors[0].message
    assert "expected 1 <= quorum <= 2" in errors[1].message


def test_bad_enum_values_list_what_is_allowed_and_what_was_found() -> None:
    bad_persona = {"name": "CFO office", "stakeholder": "approver", "users": 2}
    errors = errors_of(
        ("s.yaml", {"services": [service("x", lifecycle="live", personas=[bad_persona])]})
    )
    messages = {e.path: e.message for e in errors}
    assert "'pipeline', 'active' or 'retired'" in messages["services[0].lifecycle"]
    assert "found 'live'" in messages["services[0].lifecycle"]
    assert "found 'approver'" in messages["services[0].personas[0].stakeholder"]
    assert "experience-approver" in messages["services[0].personas[0].stakeholder"]


def test_type_errors_map_to_the_yaml_path() -> None:
    errors = errors_of(
        (
            "s.yaml",
            {
                "services": [
                    service("x", users="many", dependencies=[{"group": "g", "quorum": "two"}])
                ]
            },
        )
    )
    messages = {e.path: e.message for e in errors}
    assert "expected a valid integer" in messages["services[0].users"]
    assert "found 'many'" in messages["services[0].users"]
    assert "found 'two'" in messages["services[0].dependencies[0].quorum"]
    assert messages["services[0].dependencies[0].members"] == "required field is missing"


def test_typo_in_a_field_name_is_reported_with_the_intended_name() -> None:
    entry = {"id": "h", "type": "host", "ownr": "Platform Team"}
    errors = errors_of(("c.yaml", {"cis": [entry]}))
    messages = {e.path: e.message for e in errors}
    assert "did you mean 'owner'" in messages["cis[0].ownr"]
    assert messages["cis[0].owner"] == "required field is missing"


def test_a_dependency_that_is_neither_shape_says_what_both_look_like() -> None:
    [error] = errors_of(("c.yaml", {"cis": [ci("h"), {**ci("a"), "dependencies": ["h"]}]}))
    assert error.path == "cis[1].dependencies[0]"
    assert "{to: <id>" in error.message and "{group: <name>" in error.message


def test_every_error_is_reported_at_once() -> None:
    errors = errors_of(
        (
            "finance.yaml",
            {
                "services": [
                    service("financial-close", needs("gl-ledger"), needs("nowhere"), tier=7),
                    service("payroll", group("pair", 3, "db-1", "db-2")),
                ]
            },
        ),
        (
            "infra.yaml",
            {
                "cis": [
                    ci("gl-ledger", type="aplication"),
                    ci("db-1", needs("db-2")),
                    ci("db-2", needs("db-1")),
                    ci("gl-ledger"),
                ]
            },
        ),
    )
    assert sorted(where(errors)) == sorted(
        [
            "finance.yaml:services[0].tier",
            "finance.yaml:services[0].dependencies[1].to",
            "finance.yaml:services[1].dependencies[0].quorum",
            "infra.yaml:cis[0].type",
            "infra.yaml:cis[1].dependencies[0]",
            "infra.yaml:cis[3].id",
        ]
    )


def test_invalid_entries_still_count_as_defined() -> None:
    # gl-ledger is broken (bad type), but references to it must not add "unknown id" noise.
    [error] = errors_of(
        ("f.yaml", {"services": [service("financial-close", needs("gl-ledger"))]}),
        ("i.yaml", {"cis": [ci("gl-ledger", type="aplication")]}),
    )
    assert error.path == "cis[0].type"


def test_cis_may_not_depend_on_services() -> None:
    [error] = errors_of(("x.yaml", {"services": [service("s")], "cis": [ci("h", needs("s"))]}))
    assert error.path == "cis[0].dependencies[0].to"
    assert "a CI may only depend on a CI; found 's', which is a business service" in error.message


def test_an_active_service_may_not_depend_on_a_retired_one() -> None:
    [error] = errors_of(
        (
            "x.yaml",
            {"services": [service("new", needs("old")), service("old", lifecycle="retired")]},
        )
    )
    assert "depends on 'old', which is retired" in error.message


def test_document_shape_errors() -> None:
    errors = errors_of(("list.yaml", ["cis"]), ("keys.yaml", {"servises": [], "version": 9}))
    assert [str(e) for e in errors] == [
        "keys.yaml:servises: unexpected top-level key (did you mean 'services'?); expected one "
        "of: version, services, technical_services, cis, bindings",
        "keys.yaml:version: expected one of 1; found 9",
        "list.yaml: expected a mapping with keys version, services, technical_services, cis, "
        "bindings; found a list",
    ]


def test_personas_cannot_outnumber_the_service() -> None:
    personas = [
        {"name": "CFO office", "stakeholder": "experience-approver", "users": 20},
        {"name": "CFO office", "stakeholder": "service-evaluator", "users": 1},
    ]
    errors = errors_of(("s.yaml", {"services": [service("x", users=10, personas=personas)]}))
    assert where(errors) == [
        "s.yaml:services[0].personas[0].users",
        "s.yaml:services[0].personas[1].name",
    ]


def test_catalog_invalid_lists_every_error_in_its_message() -> None:
    with pytest.raises(CatalogInvalid) as caught:
        Catalog.from_documents([("a.yaml", {"cis": [ci("h", needs("x")), ci("g", needs("y"))]})])
    text = str(caught.value)
    assert text.startswith("catalog is invalid: 2 errors")
    assert "a.yaml:cis[0].dependencies[0].to: unknown id 'x'" in text
    assert "a.yaml:cis[1].dependencies[0].to: unknown id 'y'" in text


def _demo_docs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            "services.yaml",
            {
                "services": [
                    service("financial-close", needs("gl-ledger"), tier=1),
                    service("payroll", needs("gl-ledger", "degrades"), lifecycle="pipeline"),
                    service("fax", lifecycle="retired"),
                    service("batch", user_facing=False),
                ]
            },
        ),
        ("cis.yaml", {"cis": [ci("gl-ledger", needs("db-gl-01")), ci("db-gl-01")]}),
    ]


def test_documents_round_trip_with_the_same_fingerprint() -> None:
    catalog = Catalog.from_documents(_demo_docs())
    again = Catalog.from_documents(catalog.to_documents())
    assert again.fingerprint == catalog.fingerprint
    assert [name for name, _ in again.to_documents()] == ["services.yaml", "cis.yaml"]


def test_fingerprint_ignores_file_split_and_order_but_not_content() -> None:
    docs = _demo_docs()
    merged = {
        "cis": list(reversed(docs[1][1]["cis"])),
        "services": list(reversed(docs[0][1]["services"])),
    }
    one_file = Catalog.from_documents([("all.yaml", merged)])
    assert one_file.fingerprint == Catalog.from_documents(docs).fingerprint
    changed = [
        docs[0],
        ("cis.yaml", {"cis": [ci("gl-ledger", needs("db-gl-01")), ci("db-gl-01", type="vm")]}),
    ]
    assert Catalog.from_documents(changed).fingerprint != one_file.fingerprint


def test_with_document_replaces_one_file() -> None:
    catalog = Catalog.from_documents(_demo_docs())
    updated = catalog.with_document("cis.yaml", {"cis": [ci("gl-ledger"), ci("db-gl-01")]})
    assert updated.cis["gl-ledger"].dependencies == ()
    assert catalog.cis["gl-ledger"].dependencies != ()
    with pytest.raises(CatalogInvalid):
        catalog.with_document("cis.yaml", {"cis": [ci("db-gl-01")]})  # gl-ledger now missing


def test_catalog_view_shows_only_active_user_facing_services() -> None:
    catalog = Catalog.from_documents(_demo_docs())
    assert [s.id for s in catalog.catalog_view()] == ["financial-close"]
    assert [(s.id, s.lifecycle) for s in catalog.portfolio()] == [
        ("batch", Lifecycle.ACTIVE),
        ("fax", Lifecycle.RETIRED),
        ("financial-close", Lifecycle.ACTIVE),
        ("payroll", Lifecycle.PIPELINE),
    ]


def test_each_separate_loop_is_reported() -> None:
    errors = errors_of(
        (
            "loops.yaml",
            {
                "cis": [
                    ci("a", needs("b")),
                    ci("b", needs("a")),
                    ci("x", needs("y")),
                    ci("y", group("pair", 1, "z", "x")),
                    ci("z"),
                ]
            },
        )
    )
    assert [e.message.split(":")[0] for e in errors] == [
        "dependency cycle a -> b -> a",
        "dependency cycle x -> y -> x",
    ]
    assert where(errors) == [
        "loops.yaml:cis[0].dependencies[0]",
        "loops.yaml:cis[2].dependencies[0]",
    ]
