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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from impactline.core.calendar.errors import dotted_path
from impactline.core.contracts import DestinationKind, Priority

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
Url = Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]


class DeliveryConfigError(ValueError):
    """A route file that cannot be used; `problems` name the path inside it and the rule."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


class SecretRef(_Frozen):
    """Where a secret is read from: an environment variable or a file (a Kubernetes secret
    mounted as a volume, for instance). Exactly one of the two."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _reference_not_value(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "secrets are never written in the route file: use {env: VARIABLE} or "
                "{file: /path/to/secret}"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def __str__(self) -> str:
        return f"${self.env}" if self.env else f"file {self.file}"


class Backoff(_Frozen):
    initial_seconds: float = Field(default=1.0, gt=0)
    max_seconds: float = Field(default=300.0, gt=0)
    jitter_seconds: float = Field(default=1.0, ge=0)


class RateLimit(_Frozen):
    per_second: float = Field(default=5.0, gt=0)
    burst: int = Field(default=10, ge=1)


class Circuit(_Frozen):
    failures: int = Field(default=5, ge=1, description="consecutive failures that open it")
    cooldown_seconds: float = Field(default=60.0, gt=0)


class DeliveryPolicy(_Frozen):
    """How one destination is paced and retried."""

    timeout_seconds: float = Field(default=10.0, gt=0)
    attempts: int = Field(default=8, ge=1, description="the retry budget, first try included")
    backoff: Backoff = Field(default_factory=Backoff)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    circuit: Circuit = Field(default_factory=Circuit)
    concurrency: int = Field(default=4, ge=1, le=64)


class _Destination(_Frozen):
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


class PagerDuty(_Destination):
    kind: Literal[DestinationKind.PAGERDUTY]
    routing_key: SecretRef = Field(description="Integration key of an Events API v2 integration.")
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    webhook_secret: SecretRef | None = Field(
        default=None, description="Signing secret of the v3 webhook subscription (back-sync)."
    )
    severities: dict[Priority, PagerDutySeverity] = Field(
        default_factory=lambda: {
            "P1": "critical",
            "P2": "error",
            "P3": "warning",
            "P4": "info",
            "P5": "info",
        }
    )


class OpsgenieResponder(_Frozen):
    type: Literal["team", "user", "escalation", "schedule"]
    name: str = Field(min_length=1, max_length=100)


class Opsgenie(_Destination):
    kind: Literal[DestinationKind.OPSGENIE]
    api_key: SecretRef
    url: Url = "https://api.opsgenie.com"
    responders: tuple[OpsgenieResponder, ...] = Field(default=(), max_length=50)
    tags: tuple[Annotated[str, Field(max_length=50)], ...] = Field(default=(), max_length=10)


class Slack(_Destination):
    """An incoming webhook (`webhook_url`), or the Web API (`token` and `channel`), which can
    update a message in place."""

    kind: Literal[DestinationKind.SLACK]
    webhook_url: SecretRef | None = None
    token: SecretRef | None = None
    channel: str | None = Field(default=None, min_length=1, max_length=100)
    url: Url = "https://slack.com/api"

    @model_validator(mode="after")
    def _one_way_in(self) -> Slack:
        if (self.webhook_url is None) == (self.token is None):
            raise ValueError("give webhook_url (incoming webhook) or token and channel (Web API)")
        if self.token is not None and self.channel is None:
            raise ValueError("the Web API needs the channel to post to")
        return self

    @property
    def updates_in_place(self) -> bool:
        return self.token is not None


class Teams(_Destination):
    kind: Literal[DestinationKind.TEAMS]
    webhook_url: SecretRef


class ServiceNow(_Destination):
    """The Table API of an instance; basic auth (`username`, `password`) or an OAuth `token`."""

    kind: Literal[DestinationKind.SERVICENOW]
    instance_url: Url
    table: str = Field(default="incident", pattern=r"^[a-z0-9_]+$")
    username: SecretRef | None = None
    password: SecretRef | None = None
    token: SecretRef | None = None
    assignment_group: str | None = None
    caller_id: str | None = None
    category: str | None = None
    close_code: str = "Solution provided"

    @model_validator(mode="after")
    def _credentials(self) -> ServiceNow:
        basic = self.username is not None and self.password is not None
        if basic == (self.token is not None) or (self.username is None) != (self.password is None):
            raise ValueError("give username and password (basic auth) or token (OAuth)")
        return self


class Jira(_Destination):
    """Jira Service Management through the Jira Cloud platform REST API (v3)."""

    kind: Literal[DestinationKind.JIRA]
    site_url: Url
    email: SecretRef | None = None
    api_token: SecretRef
    project_key: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    issue_type: str = "Incident"
    priorities: dict[Priority, str] = Field(
        default_factory=lambda: {
            "P1": "Highest",
            "P2": "High",
            "P3": "Medium",
            "P4": "Low",
            "P5": "Lowest",
        }
    )
    resolve_transition: str = Field(
        min_length=1, description="Id of the workflow transition that resolves a request."
    )
    acknowledge_statuses: tuple[str, ...] = ("In Progress",)
    webhook_secret: SecretRef | None = None


class Webhook(_Destination):
    """Any HTTP endpoint: the event as JSON, signed with HMAC-SHA256 (docs/delivery.md)."""

    kind: Literal[DestinationKind.WEBHOOK]
    url: Url
    signing_secret: SecretRef


Destination = Annotated[
    PagerDuty | Opsgenie | Slack | Teams | ServiceNow | Jira | Webhook,
    Field(discriminator="kind"),
]


class When(_Frozen):
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


class Route(_Frozen):
    name: str = Field(min_length=1, max_length=200)
    when: When = Field(default_factory=When)
    to: tuple[Name, ...] = Field(min_length=1)


class EscalationTarget(_Frozen):
    """Who hears about an escalation step: steps are matched by the catalog's contact name
    (a pattern with * and ?, case-insensitive) and, when given, the level."""

    contact: str = Field(min_length=1)
    level: int | None = Field(default=None, ge=1)
    to: tuple[Name, ...] = Field(min_length=1)

    def matches(self, level: int, contact: str) -> bool:
        if self.level is not None and self.level != level:
            return False
        return fnmatchcase(contact.casefold(), self.contact.casefold())


class RouteFile(_Frozen):
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
