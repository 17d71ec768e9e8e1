"""The route file: destinations (pagers, chat, ITSM tools, webhooks), how deliveries to each are
paced and retried, which messages go where, and who hears about an escalation.

Secrets are never written in the file: a secret field holds a reference, `{env: VARIABLE}` or
`{file: /path}`, that the notify process resolves when it starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from impactline.core.calendar.errors import dotted_path
from impactline.core.contracts import DestinationKind, Priority
from impactline.core.delivery.destinations import Destination, Frozen, SecretRef, Url

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]


class DeliveryConfigError(ValueError):
    """A route file that cannot be used; `problems` name the path inside it and the rule."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(problems))


class Source(StrEnum):
    """What a delivery is about: an alert, an ITSM record, or an incident's lifecycle."""

    ALERT = "alert"
    ITSM = "itsm"
    INCIDENT = "incident"


# Which messages each kind of destination takes: pagers and chat take alerts, ITSM tools take
# ITSM records; a generic webhook takes everything.
ACCEPTS: dict[DestinationKind, frozenset[Source]] = {
    DestinationKind.PAGERDUTY: frozenset({Source.ALERT}),
    DestinationKind.OPSGENIE: frozenset({Source.ALERT}),
    DestinationKind.SLACK: frozenset({Source.ALERT}),
    DestinationKind.TEAMS: frozenset({Source.ALERT}),
    DestinationKind.SERVICENOW: frozenset({Source.ITSM}),
    DestinationKind.JIRA: frozenset({Source.ITSM}),
    DestinationKind.WEBHOOK: frozenset({Source.ALERT, Source.ITSM, Source.INCIDENT}),
}


class When(Frozen):
    """Conditions on a message; every one given must hold, a list holds when any item does."""

    source: tuple[Source, ...] = ()
    priority: tuple[Priority, ...] = ()
    business_domain: tuple[str, ...] = ()
    owner_team: tuple[str, ...] = ()
    service: tuple[str, ...] = Field(default=(), description="service id patterns with * and ?")
    high_visibility: bool | None = None
    calendar_period: tuple[str, ...] = Field(
        default=(), description="any of these calendar periods is active"
    )

    @property
    def message_conditions(self) -> bool:
        """Whether a condition other than the source is given (incidents cannot meet those)."""
        return any(
            (
                self.priority,
                self.business_domain,
                self.owner_team,
                self.service,
                self.high_visibility is not None,
                self.calendar_period,
            )
        )


class Route(Frozen):
    name: str = Field(min_length=1, max_length=200)
    when: When = Field(default_factory=When)
    to: tuple[Name, ...] = Field(min_length=1)


class EscalationTarget(Frozen):
    """Who hears about an escalation step: steps are matched by the catalog's contact name
    (a pattern with * and ?, case-insensitive) and, when given, the level."""

    contact: str = Field(min_length=1)
    level: int | None = Field(default=None, ge=1)
    to: tuple[Name, ...] = Field(min_length=1)

    def matches(self, level: int, contact: str) -> bool:
        if self.level is not None and self.level != level:
            return False
        return fnmatchcase(contact.casefold(), self.contact.casefold())


class RouteFile(Frozen):
    version: Literal[1] = 1
    dashboard_url: Url | None = Field(
        default=None, description="Where the dashboard is; messages link to the incident there."
    )
    destinations: dict[Name, Destination] = Field(default_factory=dict)
    routes: tuple[Route, ...] = ()
    escalation: tuple[EscalationTarget, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, value: Any) -> Any:
        """`defaults` holds delivery settings every destination starts from."""
        if not isinstance(value, Mapping) or "defaults" not in value:
            return value
        data = dict(value)
        defaults = data.pop("defaults")
        if not isinstance(defaults, Mapping):
            raise ValueError("defaults: expected a mapping of delivery settings")
        destinations = data.get("destinations")
        if isinstance(destinations, Mapping):
            data["destinations"] = {
                name: _with_defaults(spec, defaults) for name, spec in destinations.items()
            }
        return data

    @model_validator(mode="after")
    def _references(self) -> RouteFile:
        problems: list[str] = []
        names = [route.name for route in self.routes]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            problems.append(f"route names must be unique; repeated: {', '.join(repeated)}")
        for n, route in enumerate(self.routes):
            problems += self._route_problems(f"routes[{n}] ({route.name})", route)
        for n, target in enumerate(self.escalation):
            for name in target.to:
                problems += self._target_problem(f"escalation[{n}].to", name, (Source.ALERT,))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _route_problems(self, where: str, route: Route) -> list[str]:
        if Source.INCIDENT in route.when.source and route.when.message_conditions:
            return [
                f"{where}.when: incident events carry no priority, domain, team, service, "
                "visibility or calendar period; give those conditions in a separate route"
            ]
        found: list[str] = []
        for name in route.to:
            found += self._target_problem(f"{where}.to", name, route.when.source)
        return found

    def _target_problem(self, where: str, name: str, sources: tuple[Source, ...]) -> list[str]:
        destination = self.destinations.get(name)
        if destination is None:
            known = ", ".join(sorted(self.destinations)) or "none"
            return [f"{where}: no destination named {name!r} (destinations: {known})"]
        accepted = ACCEPTS[destination.kind]
        if sources and not accepted & set(sources):
            takes = ", ".join(sorted(accepted))
            return [
                f"{where}: {name} ({destination.kind}) takes {takes} messages, not "
                f"{', '.join(sources)}"
            ]
        return []

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None, source: str) -> RouteFile:
        """Validate a parsed YAML mapping; errors name `source`, the path and the rule."""
        if mapping is not None and not isinstance(mapping, Mapping):
            raise DeliveryConfigError(source, [f"expected a mapping, got {type(mapping).__name__}"])
        try:
            return cls.model_validate(dict(mapping or {}))
        except ValidationError as error:
            problems = [
                f"{_path(detail['loc']) or 'document'}: "
                f"{detail['msg'].removeprefix('Value error, ')}"
                for detail in error.errors(include_url=False)
            ]
            raise DeliveryConfigError(source, problems) from None

    def secrets(self) -> dict[tuple[str, str], SecretRef]:
        """Every secret reference by (destination, field), so all can be checked at start."""
        found: dict[tuple[str, str], SecretRef] = {}
        for name, destination in self.destinations.items():
            for field in type(destination).model_fields:
                value = getattr(destination, field)
                if isinstance(value, SecretRef):
                    found[(name, field)] = value
        return found


def _with_defaults(spec: Any, defaults: Mapping[str, Any]) -> Any:
    if not isinstance(spec, Mapping):
        return spec
    merged = dict(spec)
    merged["delivery"] = _deep_merge(defaults, spec.get("delivery") or {})
    return merged


def _deep_merge(base: Mapping[str, Any], override: Any) -> Any:
    if not isinstance(override, Mapping):
        return override
    merged = dict(base)
    for key, value in override.items():
        inner = merged.get(key)
        merged[key] = _deep_merge(inner, value) if isinstance(inner, Mapping) else value
    return merged


def _path(location: tuple[int | str, ...]) -> str:
    # The discriminated union adds the kind as a location part no user wrote.
    kinds = {kind.value for kind in DestinationKind}
    parts = [
        part
        for n, part in enumerate(location)
        if not (n == 2 and location[0] == "destinations" and part in kinds)
    ]
    return dotted_path(parts)
