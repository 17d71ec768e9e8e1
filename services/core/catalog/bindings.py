"""Binding rules as written in catalog files: how an event's labels point to a catalog CI.

A rule takes a value from the event (the first present label of `labels`, or the key the source
named the CI by), optionally matches it against `regex`, builds a new value with `template` from
labels and captures, normalises it and looks it up among the CIs. Rules are tried in order; the
first that finds exactly one CI binds the event. `impactline.core.binding` runs them.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            "expected lower-case letters, digits, '.', '_' or '-', starting with a letter or "
            f"digit, at most 100 characters; found {value[:60]!r}"
        )
    return value


def _compile(regex: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None


def _regex(value: str) -> str:
    _compile(value)
    return value


_LOOKUP = re.compile(r"any|id|alias|attribute:[A-Za-z0-9_.-]+")


def _lookup(value: str) -> str:
    if not _LOOKUP.fullmatch(value):
        raise ValueError(
            f"expected 'any', 'id', 'alias' or 'attribute:<name>' (e.g. attribute:ip); "
            f"found {value[:60]!r}"
        )
    return value


RuleName = Annotated[str, AfterValidator(_name)]
InputName = Annotated[str, AfterValidator(_name)]
Regex = Annotated[str, AfterValidator(_regex)]
KEY = "@key"
"""Stands for the key the source named the CI by, in `labels` and templates. Prometheus label
names cannot start with `@`, so it never shadows a label."""
VALUE = "@value"
"""Stands for the value picked from `labels` (before the regex), in templates."""
RESERVED_RULE_NAMES = frozenset({"key"})
"""`key` is the built-in first step: the key is a CI id or alias as it is."""
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class Normalise(StrEnum):
    """Normalisation steps, applied in the order listed."""

    LOWER = "lower"
    """Lower-case the value."""
    STRIP_PORT = "strip-port"
    """`db-gl-01:9187` -> `db-gl-01`; `[2001:db8::1]:9100` -> `2001:db8::1`."""
    SHORT_NAME = "short-name"
    """`db-gl-01.corp.example.com` -> `db-gl-01`; IP addresses are left whole."""
    URL_HOST = "url-host"
    """`https://portal.example.com:8443/health` -> `portal.example.com:8443`."""


def template_names(template: str) -> list[str]:
    """The names a template refers to, in order: `{namespace}/{deployment}` -> both."""
    return _PLACEHOLDER.findall(template)


class BindingRule(BaseModel):
    """One binding rule of the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: RuleName = Field(description="Unique; recorded on every event the rule binds.")
    description: str = ""
    inputs: tuple[InputName, ...] = Field(
        default=(),
        description="Inputs the rule applies to (alertmanager, native, cloudevents, pagerduty, "
        "changes, raw, or a webhook mapping's name); empty: every input.",
    )
    when: dict[str, Regex] = Field(
        default_factory=dict,
        description="Label -> regular expression its whole value must match for the rule to apply.",
    )
    labels: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = Field(
        default=(),
        description="Label precedence: the value is the first of these labels that is present "
        "and not empty (`@key`: the key the source named). Empty: the key, or the template.",
    )
    regex: Regex | None = Field(
        default=None,
        description="Must match the whole value; its groups are available to the template. "
        "Without a template the value becomes group 1 (or the whole match without groups).",
    )
    template: str | None = Field(
        default=None,
        description="Builds the value from labels, regex groups (`{host}`, `{1}`), `{@key}` and "
        "`{@value}`, e.g. `{namespace}/{deployment}`.",
    )
    normalise: tuple[Normalise, ...] = ()
    lookup: Annotated[str, AfterValidator(_lookup)] = Field(
        default="any",
        description="What the value is compared with: `id`, `alias`, `any` (id, then alias) or "
        "`attribute:<name>` (a CI attribute, e.g. `attribute:ip`). Case does not matter.",
    )

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_RULE_NAMES:
            raise ValueError(f"the rule name {name!r} is reserved for the built-in key lookup")
        return name

    @field_validator("template")
    @classmethod
    def _template_shape(cls, template: str | None) -> str | None:
        if template is None:
            return None
        stripped = _PLACEHOLDER.sub("", template)
        if "{" in stripped or "}" in stripped:
            raise ValueError(
                f"unbalanced braces in template {template!r}: expected names in braces such as "
                "'{namespace}/{deployment}'"
            )
        if any(not name.strip() for name in template_names(template)):
            raise ValueError(f"empty name in braces in template {template!r}")
        if not template_names(template):
            raise ValueError(
                f"template {template!r} names no label or group: expected e.g. '{{host}}'"
            )
        return template

    @model_validator(mode="after")
    def _groups_exist(self) -> BindingRule:
        if self.template is None or self.regex is None:
            return self
        groups = re.compile(self.regex).groups
        for name in template_names(self.template):
            if name.isdigit() and int(name) > groups:
                raise ValueError(
                    f"template refers to group {{{name}}} but the regex has {groups} group(s)"
                )
        return self
