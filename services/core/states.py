"""The state vocabulary shared by CIs and business services."""

from enum import StrEnum


class State(StrEnum):
    """Health of a CI or a business service.

    Ordered by severity so that `max()` over states picks the worst one.
    """

    OK = "ok"
    UNKNOWN = "unknown"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    def worst(self, other: "State") -> "State":
        return self if self.severity >= other.severity else other


_SEVERITY = {State.OK: 0, State.UNKNOWN: 1, State.DEGRADED: 2, State.DOWN: 3}
