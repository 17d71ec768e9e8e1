"""Binding rules and CI aliases in catalog files: validated with file, path and line, versioned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from impactline.core.catalog import Catalog, CatalogError, CatalogInvalid, load_catalog


def ci(ci_id: str, *aliases: str) -> dict[str, Any]:
    return {"id": ci_id, "type": "host", "owner": "Platform", "aliases": list(aliases)}


def errors_of(*docs: tuple[str, Any]) -> list[str]:
    with pytest.raises(CatalogInvalid) as caught:
        Catalog.from_documents(docs)
    return [str(e) for e in caught.value.errors]


def test_rules_and_aliases_load_and_round_trip_through_documents() -> None:
    rule = {"name": "host", "labels": ["instance"], "normalise": ["strip-port"]}
    catalog = Catalog.from_documents(
        [("cis.yaml", {"cis": [ci("db-gl-01", "db-gl-01.corp")], "bindings": [rule]})]
    )
    assert [r.name for r in catalog.bindings] == ["host"]
    assert catalog.cis["db-gl-01"].aliases == ("db-gl-01.corp",)
    again = Catalog.from_documents(catalog.to_documents())
    assert again.fingerprint == catalog.fingerprint
    assert again.bindings == catalog.bindings


def test_rules_are_tried_by_file_name_whatever_the_folders_or_the_order_given() -> None:
    first = {"bindings": [{"name": "a-rule"}]}
    second = {"bindings": [{"name": "b-rule"}, {"name": "c-rule"}]}
    one = Catalog.from_documents([("/z/10-first.yaml", first), ("/a/20-second.yaml", second)])
    two = Catalog.from_documents([("20-second.yaml", second), ("10-first.yaml", first)])
    assert [r.name for r in one.bindings] == ["a-rule", "b-rule", "c-rule"]
    assert [r.name for r in two.bindings] == ["a-rule", "b-rule", "c-rule"]
    assert one.fingerprint == two.fingerprint


def test_a_changed_rule_or_alias_is_a_new_catalog_fingerprint() -> None:
    base = Catalog.from_documents([("c.yaml", {"cis": [ci("h1")], "bindings": [{"name": "r"}]})])
    alias = Catalog.from_documents(
        [("c.yaml", {"cis": [ci("h1", "h1.corp")], "bindings": [{"name": "r"}]})]
    )
    rule = Catalog.from_documents(
        [("c.yaml", {"cis": [ci("h1")], "bindings": [{"name": "r", "lookup": "alias"}]})]
    )
    assert len({base.fingerprint, alias.fingerprint, rule.fingerprint}) == 3


def test_broken_rules_are_all_reported_with_their_path() -> None:
    rules = [
        {"name": "ok-rule"},
        {"name": "Bad Name"},
        {"name": "re", "regex": "(unclosed"},
        {"name": "tpl", "template": "{namespace/{deployment}"},
        {"name": "groups", "regex": "(a)-b", "template": "{1}-{2}"},
        {"name": "look", "lookup": "attributes:ip"},
        {"name": "norm", "normalise": ["strip-ports"]},
        {"name": "cond", "when": {"env": "[prod"}},
        {"name": "ok-rule"},
        {"name": "key"},
        {"name": "typo", "lables": ["instance"]},
    ]
    errors = errors_of(("bindings.yaml", {"bindings": rules}))
    assert errors == [
        "bindings.yaml:bindings[1].name: expected lower-case letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, at most 100 characters; found 'Bad Name'",
        "bindings.yaml:bindings[2].regex: not a valid regular expression: missing ), "
        "unterminated subpattern at position 0",
        "bindings.yaml:bindings[3].template: unbalanced braces in template "
        "'{namespace/{deployment}': expected names in braces such as '{namespace}/{deployment}'",
        "bindings.yaml:bindings[4]: template refers to group {2} but the regex has 1 group(s)",
        "bindings.yaml:bindings[5].lookup: expected 'any', 'id', 'alias' or 'attribute:<name>' "
        "(e.g. attribute:ip); found 'attributes:ip'",
        "bindings.yaml:bindings[6].normalise[0]: expected 'lower', 'strip-port', 'short-name' "
        "or 'url-host'; found 'strip-ports' (did you mean 'strip-port'?)",
        "bindings.yaml:bindings[7].when.env: not a valid regular expression: unterminated "
        "character set at position 0",
        "bindings.yaml:bindings[8].name: duplicate rule name 'ok-rule': expected names unique "
        "across all catalog files; already used at bindings.yaml:bindings[0]",
        "bindings.yaml:bindings[9].name: the rule name 'key' is reserved for the built-in key "
        "lookup",
        "bindings.yaml:bindings[10].lables: unexpected field 'lables' (did you mean 'labels'?); "
        "expected one of: name, description, inputs, when, labels, regex, template, "
        "normalise, lookup",
    ]


def test_an_alias_names_one_ci_only() -> None:
    errors = errors_of(
        ("a.yaml", {"cis": [ci("db-gl-01", "gl.corp", "10.0.0.1"), ci("db-gl-02", "GL.CORP")]}),
        ("b.yaml", {"cis": [ci("web-01", "DB-GL-01", "web.corp", "web.corp")]}),
    )
    assert errors == [
        "a.yaml:cis[1].aliases[0]: alias 'GL.CORP' is also an alias of CI 'db-gl-01' at "
        "a.yaml:cis[0].aliases[0]: expected each alias once in the catalog (case does not matter)",
        "b.yaml:cis[0].aliases[0]: alias 'DB-GL-01' is the id of CI 'db-gl-01': expected an "
        "alias to name only this CI",
        "b.yaml:cis[0].aliases[2]: alias 'web.corp' is also an alias of this CI at "
        "b.yaml:cis[0].aliases[1]: expected each alias once in the catalog (case does not matter)",
    ]


def test_errors_in_files_carry_the_yaml_line(tmp_path: Path) -> None:
    path = tmp_path / "bindings.yaml"
    path.write_text(
        "bindings:\n  - name: host\n    labels: [instance]\n  - name: broken\n    regex: '(oops'\n"
    )
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog([path])
    [error] = caught.value.errors
    assert isinstance(error, CatalogError)
    assert (error.path, error.line) == ("bindings[1].regex", 5)
