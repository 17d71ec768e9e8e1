"""The binding engine: which catalog CI an event is about, and which rule said so.

Order of work, the first step that finds exactly one CI wins:

1. `key`: the key the source named the CI by is a CI id or an alias (case does not matter).
2. The catalog's binding rules that apply to the event's input, in catalog order.

An event nothing binds is `Unbound`, with every step's reason and the closest CI ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from impactline.core.binding.index import CatalogIndex, Found
from impactline.core.binding.rules import CompiledRule, Subject
from impactline.core.catalog import Catalog

KEY_RULE = "key"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One step tried: the rule, the value it looked up (if it made one) and what came of it."""

    rule: str
    value: str | None
    outcome: str


@dataclass(frozen=True, slots=True)
class Bound:
    ci_id: str
    correlation_domain: str
    rule: str
    value: str
    """What was looked up, after templates and normalisation."""
    via: str
    """How the value names the CI: `id`, `alias` or `attribute:<name>`."""
    attempts: tuple[Attempt, ...] = ()


@dataclass(frozen=True, slots=True)
class Unbound:
    reason: str
    candidates: tuple[str, ...]
    """The CI ids most like what the event named, best first."""
    attempts: tuple[Attempt, ...] = field(default=())


Outcome = Bound | Unbound


class Binder:
    """Binds events with one catalog version; build one per version (it indexes the catalog)."""

    def __init__(self, catalog: Catalog, version: int = 0) -> None:
        self.catalog = catalog
        self.version = version
        self.index = CatalogIndex(catalog)
        self.rules = tuple(CompiledRule(rule) for rule in catalog.bindings)
        self._by_input: dict[str, tuple[CompiledRule, ...]] = {}

    def rules_for(self, input_name: str) -> tuple[CompiledRule, ...]:
        rules = self._by_input.get(input_name)
        if rules is None:
            rules = tuple(r for r in self.rules if r.applies_to(input_name))
            self._by_input[input_name] = rules
        return rules

    def bind(self, subject: Subject) -> Outcome:
        if self.index.is_ci(subject.key):
            return self._bound(subject.key, KEY_RULE, subject.key, "id", ())
        attempts: list[Attempt] = []
        found = self.index.find(subject.key, "any")
        if found.unique:
            return self._bound(found.unique, KEY_RULE, subject.key, found.via, ())
        attempts.append(Attempt(KEY_RULE, subject.key, _no_ci(subject.key, "any", found)))
        for rule in self.rules_for(subject.input):
            derived = rule.derive(subject)
            if derived.value is None:
                attempts.append(Attempt(rule.name, None, derived.why_not))
                continue
            found = self.index.find(derived.value, rule.lookup)
            if found.unique:
                return self._bound(
                    found.unique, rule.name, derived.value, found.via, tuple(attempts)
                )
            attempts.append(
                Attempt(rule.name, derived.value, _no_ci(derived.value, rule.lookup, found))
            )
        closest = self.index.closest_cis(a.value for a in attempts if a.value is not None)
        return Unbound(_reason(subject, attempts), closest, tuple(attempts))

    def _bound(
        self, ci_id: str, rule: str, value: str, via: str, attempts: tuple[Attempt, ...]
    ) -> Bound:
        done = (*attempts, Attempt(rule, value, f"bound to {ci_id} ({via})"))
        domain = self.catalog.graph.domain_of(ci_id)
        return Bound(ci_id, domain, rule, value, via, done)


def _no_ci(value: str, lookup: str, found: Found) -> str:
    if len(found.ci_ids) > 1:
        many = ", ".join(found.ci_ids[:5]) + (", ..." if len(found.ci_ids) > 5 else "")
        return f"{value!r} is ambiguous: it names {len(found.ci_ids)} CIs ({many})"
    what = {
        "any": "CI id or alias",
        "id": "CI id",
        "alias": "CI alias",
    }.get(lookup, f"CI {lookup.removeprefix('attribute:')!r} attribute")
    return f"no {what} is {value!r}"


def _reason(subject: Subject, attempts: list[Attempt]) -> str:
    if len(attempts) == 1:
        return f"{attempts[0].outcome}, and no binding rule applies to input {subject.input!r}"
    rules = "; ".join(f"{a.rule}: {a.outcome}" for a in attempts[1:])
    return f"{attempts[0].outcome}; {rules}"
