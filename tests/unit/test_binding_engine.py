"""CI binding: the names monitoring uses find the right catalog CI, with the rule recorded."""

from __future__ import annotations

from typing import Any

import pytest

from impactline.core.binding import Binder, Bound, Subject, Unbound, normalise, short_name
from impactline.core.binding.normalise import strip_port, url_host
from impactline.core.catalog import Catalog
from impactline.core.catalog.bindings import Normalise

CIS: list[dict[str, Any]] = [
    {
        "id": "db-gl-01",
        "type": "database",
        "owner": "DBA",
        "aliases": ["db-gl-01.corp.example.com", "10.20.0.11"],
    },
    {"id": "app-gl-01", "type": "app", "owner": "Finance IT", "aliases": ["erp/gl-api"]},
    {
        "id": "app-gl-02",
        "type": "app",
        "owner": "Finance IT",
        "attributes": {"ip": ["10.20.0.21", "10.20.0.22"], "site": "london"},
    },
    {
        "id": "web-portal",
        "type": "app",
        "owner": "Web",
        "attributes": {"ip": "10.30.0.5", "site": "london", "arn": "arn:aws:elb:eu:1:lb/portal"},
    },
    {"id": "Mixed-Case-01", "type": "host", "owner": "Platform"},
]

RULES: list[dict[str, Any]] = [
    {
        "name": "k8s-workload",
        "inputs": ["alertmanager", "grafana"],
        "template": "{namespace}/{deployment}",
        "lookup": "alias",
    },
    {
        "name": "instance-host",
        "inputs": ["alertmanager"],
        "labels": ["host", "instance"],
        "normalise": ["strip-port", "lower"],
    },
    {
        "name": "instance-fqdn",
        "inputs": ["alertmanager"],
        "labels": ["instance"],
        "normalise": ["strip-port", "short-name", "lower"],
    },
    {
        "name": "by-ip",
        "labels": ["ip", "@key"],
        "normalise": ["strip-port"],
        "lookup": "attribute:ip",
    },
    {
        "name": "probe-url",
        "inputs": ["uptime-kuma"],
        "labels": ["url"],
        "regex": r"https?://(?P<host>[^/:]+)(:\d+)?(/.*)?",
        "template": "{host}",
        "normalise": ["short-name"],
    },
    {
        "name": "prod-only-job",
        "inputs": ["native"],
        "when": {"env": "prod|production"},
        "labels": ["job"],
        "regex": r"(.+)-exporter",
        "lookup": "id",
    },
    {"name": "site", "inputs": ["zabbix"], "labels": ["site"], "lookup": "attribute:site"},
]


@pytest.fixture(scope="module")
def binder() -> Binder:
    business = {
        "id": "financial-close",
        "name": "Financial Close",
        "owner": "Finance",
        "tier": 1,
        "users": 100,
        "domain": "finance",
        "dependencies": [{"to": "db-gl-01"}, {"to": "app-gl-01"}],
    }
    catalog = Catalog.from_documents(
        [
            ("cis.yaml", {"services": [business], "cis": CIS}),
            ("bindings.yaml", {"bindings": RULES}),
        ]
    )
    return Binder(catalog, version=7)


def bind(binder: Binder, input_: str, key: str, **labels: str) -> Bound | Unbound:
    return binder.bind(Subject(input_, key, labels))


@pytest.mark.parametrize(
    ("input_", "key", "labels", "ci", "rule", "via"),
    [
        # The key is a CI id as it is: bound without any rule.
        ("native", "db-gl-01", {}, "db-gl-01", "key", "id"),
        # ... or an alias, or an id in another case.
        ("native", "DB-GL-01.corp.example.com", {}, "db-gl-01", "key", "alias"),
        ("native", "mixed-case-01", {}, "Mixed-Case-01", "key", "id"),
        # The headline case: postgres_exporter's instance label carries the port.
        (
            "alertmanager",
            "db-gl-01:9187",
            {"instance": "db-gl-01:9187"},
            "db-gl-01",
            "instance-host",
            "id",
        ),
        # Label precedence: `host` wins over `instance`.
        (
            "alertmanager",
            "x:9100",
            {"host": "APP-GL-01", "instance": "db-gl-01:9100"},
            "app-gl-01",
            "instance-host",
            "id",
        ),
        # An FQDN with a port: the first rule makes `db-gl-01.corp...` (no such id is fine, it is
        # an alias and the lookup is `any`).
        (
            "alertmanager",
            "db-gl-01.corp.example.com:9100",
            {"instance": "db-gl-01.corp.example.com:9100"},
            "db-gl-01",
            "instance-host",
            "alias",
        ),
        # An FQDN unknown as an alias: the short name is the CI id.
        (
            "alertmanager",
            "app-gl-02.other.example.com:9100",
            {"instance": "app-gl-02.other.example.com:9100"},
            "app-gl-02",
            "instance-fqdn",
            "id",
        ),
        # A template over Kubernetes labels, looked up among aliases.
        (
            "alertmanager",
            "KubeDeploymentReplicasMismatch",
            {"namespace": "erp", "deployment": "gl-api"},
            "app-gl-01",
            "k8s-workload",
            "alias",
        ),
        # An IP address as the key, found among CI attributes (list and scalar values).
        ("native", "10.20.0.22", {}, "app-gl-02", "by-ip", "attribute:ip"),
        ("cloudevents", "10.30.0.5:443", {}, "web-portal", "by-ip", "attribute:ip"),
        # An IP address that is an alias binds by the key itself.
        ("native", "10.20.0.11", {}, "db-gl-01", "key", "alias"),
        # A regex with a named group feeding the template, then normalised.
        (
            "uptime-kuma",
            "Portal check",
            {"url": "https://db-gl-01.corp.example.com:8443/health"},
            "db-gl-01",
            "probe-url",
            "id",
        ),
        # A condition on another label, and a numbered group without a template.
        (
            "native",
            "n",
            {"env": "production", "job": "app-gl-02-exporter"},
            "app-gl-02",
            "prod-only-job",
            "id",
        ),
    ],
)
def test_an_event_is_bound_to_its_ci_by_the_first_step_that_finds_one(
    binder: Binder,
    input_: str,
    key: str,
    labels: dict[str, str],
    ci: str,
    rule: str,
    via: str,
) -> None:
    outcome = binder.bind(Subject(input_, key, labels))
    assert isinstance(outcome, Bound), outcome
    assert (outcome.ci_id, outcome.rule, outcome.via) == (ci, rule, via)
    assert outcome.attempts[-1].outcome == f"bound to {ci} ({via})"


def test_the_bound_ci_carries_its_correlation_domain(binder: Binder) -> None:
    outcome = bind(binder, "alertmanager", "db-gl-01:9187", instance="db-gl-01:9187")
    assert isinstance(outcome, Bound)
    assert outcome.correlation_domain == "dom-financial-close"
    assert outcome.value == "db-gl-01"


def test_rules_only_apply_to_their_inputs(binder: Binder) -> None:
    # instance-host is for alertmanager; from native the same labels bind nothing.
    outcome = bind(binder, "native", "db-gl-01:9187", instance="db-gl-01:9187")
    assert isinstance(outcome, Unbound)
    tried = [a.rule for a in outcome.attempts]
    assert tried == ["key", "by-ip", "prod-only-job"]


def test_a_condition_that_does_not_hold_skips_the_rule(binder: Binder) -> None:
    outcome = bind(binder, "native", "n", env="staging", job="app-gl-02-exporter")
    assert isinstance(outcome, Unbound)
    [why] = [a.outcome for a in outcome.attempts if a.rule == "prod-only-job"]
    assert why == "condition: env='staging' does not match 'prod|production'"


def test_an_unbound_event_says_why_at_every_step_and_suggests_close_cis(binder: Binder) -> None:
    outcome = bind(binder, "alertmanager", "db-gl-10:9187", instance="db-gl-10:9187")
    assert isinstance(outcome, Unbound)
    steps = {a.rule: (a.value, a.outcome) for a in outcome.attempts}
    assert steps["key"] == ("db-gl-10:9187", "no CI id or alias is 'db-gl-10:9187'")
    assert steps["k8s-workload"] == (None, "template: label 'namespace' is not set")
    assert steps["instance-host"] == ("db-gl-10", "no CI id or alias is 'db-gl-10'")
    assert steps["by-ip"][1] == "no CI 'ip' attribute is 'db-gl-10'"
    assert outcome.candidates[0] == "db-gl-01"
    assert "instance-host: no CI id or alias is 'db-gl-10'" in outcome.reason


def test_a_value_that_names_several_cis_binds_none(binder: Binder) -> None:
    outcome = bind(binder, "zabbix", "some-host", site="london")
    assert isinstance(outcome, Unbound)
    [why] = [a.outcome for a in outcome.attempts if a.rule == "site"]
    assert why == "'london' is ambiguous: it names 2 CIs (app-gl-02, web-portal)"


def test_a_regex_that_does_not_match_is_reported(binder: Binder) -> None:
    outcome = bind(binder, "uptime-kuma", "x", url="ftp://files.example.com")
    assert isinstance(outcome, Unbound)
    [why] = [a.outcome for a in outcome.attempts if a.rule == "probe-url"]
    assert why.startswith("'ftp://files.example.com' does not match")


def test_without_rules_for_an_input_the_reason_says_so() -> None:
    binder = Binder(Catalog.from_documents([("cis.yaml", {"cis": CIS})]))
    outcome = bind(binder, "pagerduty", "nothing-like-it")
    assert isinstance(outcome, Unbound)
    assert outcome.reason == (
        "no CI id or alias is 'nothing-like-it', and no binding rule applies to input 'pagerduty'"
    )
    assert outcome.candidates == ()


@pytest.mark.parametrize(
    ("value", "steps", "expected"),
    [
        ("db-gl-01:9187", [Normalise.STRIP_PORT], "db-gl-01"),
        ("[2001:db8::1]:9100", [Normalise.STRIP_PORT], "2001:db8::1"),
        ("2001:db8::1", [Normalise.STRIP_PORT], "2001:db8::1"),
        ("10.0.0.5:9100", [Normalise.STRIP_PORT], "10.0.0.5"),
        ("DB-GL-01.Corp.Example.com", [Normalise.SHORT_NAME, Normalise.LOWER], "db-gl-01"),
        ("10.0.0.5", [Normalise.SHORT_NAME], "10.0.0.5"),
        ("10.0.0.5:9100", [Normalise.SHORT_NAME], "10.0.0.5:9100"),
        ("db-gl-01.corp:9187", [Normalise.SHORT_NAME], "db-gl-01"),
        (
            "https://portal.example.com:8443/health?x=1",
            [Normalise.URL_HOST],
            "portal.example.com:8443",
        ),
        (
            "https://user@portal.example.com/x",
            [Normalise.URL_HOST, Normalise.SHORT_NAME],
            "portal",
        ),
        ("portal.example.com/health", [Normalise.URL_HOST], "portal.example.com"),
        ("  padded  ", [], "padded"),
    ],
)
def test_normalisation_steps(value: str, steps: list[Normalise], expected: str) -> None:
    assert normalise(value, steps) == expected


def test_normalisation_helpers_leave_plain_names_alone() -> None:
    assert strip_port("db-gl-01") == "db-gl-01"
    assert short_name("db-gl-01") == "db-gl-01"
    assert url_host("db-gl-01") == "db-gl-01"
