"""Which topics an impact event is published to.

Every impact event goes to `impact.all` and to `impact.<business domain>`. Routing rules add
topics: each rule names the topics it adds and a match; every condition of the match must hold
(an empty match holds for every event). Topic names are returned without any deployment prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from impactline.core import topics
from impactline.core.calendar.errors import dotted_path
from impactline.core.contracts import ImpactEvent, Priority

TopicName = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9._-]+$",
        max_length=200,
        description="a Kafka topic name without the deployment prefix, e.g. impact.exec",
    ),
]


class RoutingError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(f"{source}: " + "; ".join(problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RouteMatch(_Frozen):
    """Conditions on an impact event; each one given must hold."""

    business_domains: tuple[str, ...] = Field(default=(), description="any of these domains")
    services: tuple[str, ...] = Field(
        default=(), description="service id patterns with * and ?, any of them"
    )
    tiers: tuple[Literal[1, 2, 3, 4], ...] = Field(default=(), description="any of these tiers")
    min_priority: Priority | None = Field(
        default=None, description="this priority or a more urgent one: P2 matches P1 and P2"
    )
    high_visibility: bool | None = None

    def matches(self, event: ImpactEvent) -> bool:
        if self.business_domains and event.business_domain not in self.business_domains:
            return False
        if self.services and not any(fnmatchcase(event.service_id, p) for p in self.services):
            return False
        if self.tiers and event.tier not in self.tiers:
            return False
        if self.min_priority is not None and (
            event.priority is None or _rank(event.priority) > _rank(self.min_priority)
        ):
            return False
        return self.high_visibility is None or event.high_visibility is self.high_visibility


class RoutingRule(_Frozen):
    name: str = Field(min_length=1)
    topics: tuple[TopicName, ...] = Field(min_length=1)
    match: RouteMatch = Field(default_factory=RouteMatch)


class RoutingRules(_Frozen):
    """The extra routing rules; with none, events go to `impact.all` and their domain topic."""

    rules: tuple[RoutingRule, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> RoutingRules:
        names = [rule.name for rule in self.rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        return self

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any] | None, source: str = "routing rules"
    ) -> RoutingRules:
        """Validate a parsed YAML mapping; errors name `source`, the path and the expectation."""
        if mapping is not None and not isinstance(mapping, Mapping):
            raise RoutingError(source, [f"expected a mapping, got {type(mapping).__name__}"])
        try:
            return cls.model_validate(dict(mapping or {}))
        except ValidationError as error:
            problems = [
                f"{dotted_path(detail['loc']) or 'document'}: "
                f"{detail['msg'].removeprefix('Value error, ')}"
                for detail in error.errors(include_url=False)
            ]
            raise RoutingError(source, problems) from None

    def topics_for(self, event: ImpactEvent) -> tuple[str, ...]:
        """`impact.all`, the domain topic, then each matching rule's topics, without repeats."""
        found = [topics.IMPACT.name, topics.impact_domain_topic(event.business_domain).name]
        for rule in self.rules:
            if rule.match.matches(event):
                found.extend(rule.topics)
        return _unique(found)


DEFAULT_ROUTING = RoutingRules()


def _rank(priority: str) -> int:
    return int(priority.removeprefix("P"))


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
