"""One binding rule, compiled: from an event's key and labels to the value it looks up."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from impactline.core.binding.normalise import normalise
from impactline.core.catalog.bindings import KEY, VALUE, BindingRule, template_names

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Subject:
    """What binding sees of an event: the input it came through, the key the source named the
    CI by, and its labels (attributes)."""

    input: str
    key: str
    labels: Mapping[str, str]

    def label(self, name: str) -> str | None:
        """A label's value, `@key` for the key; None when absent or blank."""
        value = self.key if name == KEY else self.labels.get(name)
        if value is None or not value.strip():
            return None
        return value


@dataclass(frozen=True, slots=True)
class Derived:
    """What a rule made of an event: the value to look up, or why it made none."""

    value: str | None
    why_not: str = ""


class CompiledRule:
    def __init__(self, rule: BindingRule) -> None:
        self.rule = rule
        self.name = rule.name
        self.lookup = rule.lookup
        self.inputs = frozenset(rule.inputs)
        self._when = [(label, re.compile(regex)) for label, regex in rule.when.items()]
        self._regex = re.compile(rule.regex) if rule.regex is not None else None
        self._names = template_names(rule.template) if rule.template is not None else []

    def applies_to(self, input_name: str) -> bool:
        return not self.inputs or input_name in self.inputs

    def derive(self, subject: Subject) -> Derived:
        for label, pattern in self._when:
            value = subject.label(label)
            if value is None:
                return Derived(None, f"condition: label {label!r} is not set")
            if pattern.fullmatch(value) is None:
                return Derived(
                    None, f"condition: {label}={value!r} does not match {pattern.pattern!r}"
                )
        picked = self._pick(subject)
        if picked is None:
            return Derived(None, _missing(self.rule.labels))
        groups: dict[str, str] = {}
        value = picked
        if self._regex is not None:
            target = picked if picked is not None else subject.key
            match = self._regex.fullmatch(target)
            if match is None:
                return Derived(None, f"{target!r} does not match {self._regex.pattern!r}")
            groups = _groups(match)
            value = match.group(1) if self._regex.groups else match.group(0)
        if self.rule.template is not None:
            rendered = self._render(subject, picked, groups)
            if isinstance(rendered, Derived):
                return rendered
            value = rendered
        value = normalise(value or "", self.rule.normalise)
        if not value:
            return Derived(None, "the value is empty")
        return Derived(value)

    def _pick(self, subject: Subject) -> str | None:
        """The value named by `labels` (first set wins); the key without `labels`."""
        if not self.rule.labels:
            return subject.key
        for name in self.rule.labels:
            value = subject.label(name)
            if value is not None:
                return value
        return None

    def _render(self, subject: Subject, picked: str, groups: dict[str, str]) -> str | Derived:
        values: dict[str, str] = {}
        for name in self._names:
            if name in groups:
                values[name] = groups[name]
            elif name == VALUE:
                values[name] = picked
            else:
                found = subject.label(name)
                if found is None:
                    return Derived(None, f"template: label {name!r} is not set")
                values[name] = found
        template = self.rule.template or ""
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _groups(match: re.Match[str]) -> dict[str, str]:
    out = {str(n): g for n, g in enumerate(match.groups(), start=1) if g is not None}
    out.update({k: v for k, v in match.groupdict().items() if v is not None})
    return out


def _missing(labels: tuple[str, ...]) -> str:
    if len(labels) == 1:
        return f"label {labels[0]!r} is not set"
    return f"none of the labels {', '.join(labels)} is set"
