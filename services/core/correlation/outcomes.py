"""What the per-CI stage says about each event and each timer: a verdict, maybe a state change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from impactline.core.contracts import CIStateChanged, derived_id
from impactline.core.states import State


class Verdict(StrEnum):
    """Why an event did or did not change a CI's accepted state."""

    ACCEPTED = "accepted"
    """The reported state is now the CI's state."""
    UNCHANGED = "unchanged"
    """The report agrees with the state already accepted."""
    DUPLICATE_ID = "duplicate-id"
    """This event id was already processed (a re-delivery); it is ignored entirely."""
    DUPLICATE_FINGERPRINT = "duplicate-fingerprint"
    """The same report (state, summary, metric) was seen moments ago; it only proves liveness."""
    LATE = "late"
    """Observed before the CI's current state or report began; too old to change anything."""
    PENDING = "pending"
    """A new state that still needs more reports or more time before it is accepted."""
    CONFIRMED = "confirmed"
    """A pending state stood uncontradicted long enough and is now accepted (timer)."""
    FLAPPING = "flapping"
    """The CI changes too often; it is held in its worst recent state."""
    RELEASED = "released"
    """A flapping CI was stable long enough; it takes its reported state again (timer)."""
    STALE = "stale"
    """Nothing was heard from the CI for too long; it is now unknown (timer)."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """An accepted change of a CI's state.

    For timer decisions (confirmed, released, stale) `cause_event_id` is derived from the CI id,
    the verdict and the decision time, so a replay derives the same ids.
    """

    ci_id: str
    state: State
    previous_state: State
    time: datetime
    cause_event_id: str
    reason: Verdict

    def to_event(self, correlation_domain: str) -> CIStateChanged:
        """The `ci-state` topic record for this change, keyed by its correlation domain."""
        return CIStateChanged(
            id=derived_id(self.cause_event_id, "ci-state"),
            ci_id=self.ci_id,
            state=self.state,
            previous_state=self.previous_state,
            time=self.time,
            correlation_domain=correlation_domain,
            cause_event_id=self.cause_event_id,
        )


@dataclass(frozen=True, slots=True)
class CIOutcome:
    """The verdict on one event (`event_id` set) or one timer decision (`event_id` None)."""

    ci_id: str
    verdict: Verdict
    time: datetime
    event_id: str | None = None
    change: StateChange | None = None
    detail: str = ""


def changes_of(outcomes: list[CIOutcome]) -> list[StateChange]:
    """Only the accepted state changes, in order: what goes on to the per-domain stage."""
    return [o.change for o in outcomes if o.change is not None]
