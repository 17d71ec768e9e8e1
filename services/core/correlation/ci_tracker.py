"""Per CI: de-duplication, hysteresis, flap holding and staleness.

One `CITracker` per CI id, kept in a table keyed by CI id. Every decision uses event times and
deadlines derived from them (never the wall clock), so replaying the same input yields the same
accepted changes whether or not timers fired in between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from impactline.core.contracts import TelemetryEvent, derived_id
from impactline.core.correlation.config import CorrelationConfig
from impactline.core.correlation.dedup import FingerprintWindow, RecentIds, fingerprint
from impactline.core.correlation.durations import format_duration
from impactline.core.correlation.outcomes import CIOutcome, StateChange, Verdict
from impactline.core.correlation.serial import (
    StateFormatError,
    check_format,
    required_time,
    time_in,
    time_out,
)
from impactline.core.states import State

_MAX_TIMER_STEPS = 8  # each step clears its own deadline; a few cover every chain of timers


@dataclass(slots=True)
class CITracker:
    """The accepted state of one CI and what is needed to decide the next one."""

    ci_id: str
    state: State = State.OK
    state_since: datetime | None = None
    last_seen: datetime | None = None
    reported: State | None = None
    reported_since: datetime | None = None
    pending: State | None = None
    pending_count: int = 0
    pending_since: datetime | None = None
    flaps: list[tuple[datetime, State]] = field(default_factory=list)
    """Recent changes of the reported state, newest last, trimmed to the flap window."""
    held: bool = False
    stale: bool = False
    recent_ids: RecentIds = field(default_factory=RecentIds)
    fingerprints: FingerprintWindow = field(default_factory=FingerprintWindow)

    # -- input ---------------------------------------------------------------------------------

    def observe(
        self, event: TelemetryEvent, config: CorrelationConfig, ci_type: str | None = None
    ) -> list[CIOutcome]:
        """Process one telemetry event of this CI.

        Returns the timer decisions that fell due before the event's time, then the event's own
        verdict (always last). `ci_type` selects the staleness override of that CI type.
        """
        if event.ci_id != self.ci_id:
            raise ValueError(
                f"event {event.id} is about CI {event.ci_id!r} but this tracker holds "
                f"{self.ci_id!r}; route telemetry by CI id"
            )
        if event.id in self.recent_ids:
            return [self._outcome(Verdict.DUPLICATE_ID, event.time, event, "already processed")]
        outcomes = self.tick(event.time, config, ci_type)
        self.recent_ids.add(event.id, config.dedup.recent_ids)
        return [*outcomes, self._judge(event, config)]

    def _judge(self, event: TelemetryEvent, config: CorrelationConfig) -> CIOutcome:
        at = event.time
        known = [t for t in (self.state_since, self.reported_since) if t is not None]
        newest = max(known, default=None)
        if newest is not None and at < newest:
            return self._outcome(
                Verdict.LATE, at, event, f"observed before the current report of {newest}"
            )
        self.last_seen = at if self.last_seen is None else max(self.last_seen, at)
        self.stale = False
        dedup = config.dedup
        key = fingerprint(event.state.value, event.summary, event.metric)
        current = self.reported if self.reported is not None else self.state
        if event.state == current and self.fingerprints.seen_within(
            key, at, dedup.fingerprint_window
        ):
            return self._outcome(Verdict.DUPLICATE_FINGERPRINT, at, event, "same report repeated")
        self.fingerprints.record(key, at, dedup.fingerprint_window, dedup.fingerprints)
        if event.state != current:
            self.reported, self.reported_since = event.state, at
            self._note_flap(at, event.state, config)
        elif self.reported is None:
            self.reported, self.reported_since = event.state, at

        damping = config.damping
        if self.held:
            return self._hold(event.state, at, event, "still flapping")
        recent = [s for t, s in self.flaps if t > at - damping.flap_window]
        if len(recent) > damping.flap_threshold:
            self.held = True
            self._clear_pending()
            worst = self.state
            for flapped in recent:
                worst = worst.worst(flapped)
            detail = (
                f"{len(recent)} state changes within {format_duration(damping.flap_window)}; "
                f"held at {worst} until stable for {format_duration(damping.stable_for)}"
            )
            return self._hold(worst, at, event, detail)
        if event.state == self.state:
            self._clear_pending()
            return self._outcome(Verdict.UNCHANGED, at, event)
        if self.pending == event.state:
            self.pending_count += 1
        else:
            self.pending, self.pending_count, self.pending_since = event.state, 1, at
        assert self.pending_since is not None
        waited = at - self.pending_since
        confirm_after = damping.confirm_after
        if self.pending_count >= damping.confirm_count or (
            confirm_after > timedelta(0) and waited >= confirm_after
        ):
            return self._accept(event.state, at, event.id, Verdict.ACCEPTED, event)
        return self._outcome(
            Verdict.PENDING,
            at,
            event,
            f"{event.state} reported {self.pending_count} of {damping.confirm_count} times",
        )

    def _hold(self, state: State, at: datetime, event: TelemetryEvent, detail: str) -> CIOutcome:
        worst = self.state.worst(state)
        if worst != self.state:
            return self._accept(worst, at, event.id, Verdict.FLAPPING, event, detail)
        return self._outcome(Verdict.FLAPPING, at, event, detail)

    def _note_flap(self, at: datetime, state: State, config: CorrelationConfig) -> None:
        damping = config.damping
        self.flaps.append((at, state))
        horizon = at - damping.flap_window
        keep = [(t, s) for t, s in self.flaps if t > horizon]
        self.flaps = keep[-(damping.flap_threshold + 1) :]

    # -- timers --------------------------------------------------------------------------------

    def next_deadline(
        self, config: CorrelationConfig, ci_type: str | None = None
    ) -> datetime | None:
        """When `tick` next has something to decide; None when nothing is scheduled."""
        due = [at for at, _ in self._timers(config, ci_type)]
        return min(due) if due else None

    def _timers(
        self, config: CorrelationConfig, ci_type: str | None
    ) -> list[tuple[datetime, Verdict]]:
        timers: list[tuple[datetime, Verdict]] = []
        damping = config.damping
        if self.held and self.reported_since is not None:
            timers.append((self.reported_since + damping.stable_for, Verdict.RELEASED))
        if (
            self.pending is not None
            and self.pending_since is not None
            and damping.confirm_after > timedelta(0)
        ):
            timers.append((self.pending_since + damping.confirm_after, Verdict.CONFIRMED))
        stale_after = config.staleness.after_for(ci_type)
        if not self.stale and self.last_seen is not None and stale_after > timedelta(0):
            timers.append((self.last_seen + stale_after, Verdict.STALE))
        return timers

    def tick(
        self, now: datetime, config: CorrelationConfig, ci_type: str | None = None
    ) -> list[CIOutcome]:
        """Apply every timer decision due at or before `now`, each at its own deadline."""
        outcomes: list[CIOutcome] = []
        for _ in range(_MAX_TIMER_STEPS):
            due = sorted(t for t in self._timers(config, ci_type) if t[0] <= now)
            if not due:
                break
            at, verdict = due[0]
            outcomes.append(self._fire(verdict, at, config))
        return outcomes

    def _fire(self, verdict: Verdict, at: datetime, config: CorrelationConfig) -> CIOutcome:
        cause = derived_id(self.ci_id, verdict.value, at.isoformat())
        if verdict is Verdict.RELEASED:
            self.held = False
            self.flaps = []
            target = self.reported if self.reported is not None else self.state
            detail = f"stable at {target} for {format_duration(config.damping.stable_for)}"
            if target != self.state:
                return self._accept(target, at, cause, verdict, None, detail)
            return self._outcome(verdict, at, None, detail)
        if verdict is Verdict.CONFIRMED:
            assert self.pending is not None
            detail = f"{self.pending} stood for {format_duration(config.damping.confirm_after)}"
            return self._accept(self.pending, at, cause, verdict, None, detail)
        self.stale = True
        self.held = False
        self.flaps = []
        self._clear_pending()
        self.reported, self.reported_since = State.UNKNOWN, at
        detail = f"no report since {self.last_seen}"
        if self.state != State.UNKNOWN:
            return self._accept(State.UNKNOWN, at, cause, verdict, None, detail)
        return self._outcome(verdict, at, None, detail)

    # -- helpers -------------------------------------------------------------------------------

    def _accept(
        self,
        state: State,
        at: datetime,
        cause_event_id: str,
        verdict: Verdict,
        event: TelemetryEvent | None,
        detail: str = "",
    ) -> CIOutcome:
        change = StateChange(self.ci_id, state, self.state, at, cause_event_id, verdict)
        self.state, self.state_since = state, at
        self._clear_pending()
        return self._outcome(verdict, at, event, detail, change)

    def _clear_pending(self) -> None:
        self.pending, self.pending_count, self.pending_since = None, 0, None

    def _outcome(
        self,
        verdict: Verdict,
        at: datetime,
        event: TelemetryEvent | None,
        detail: str = "",
        change: StateChange | None = None,
    ) -> CIOutcome:
        event_id = event.id if event is not None else None
        return CIOutcome(self.ci_id, verdict, at, event_id, change, detail)

    # -- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict that `from_dict` turns back into an equal tracker."""
        return {
            "v": 1,
            "ci_id": self.ci_id,
            "state": self.state.value,
            "state_since": time_out(self.state_since),
            "last_seen": time_out(self.last_seen),
            "reported": self.reported.value if self.reported else None,
            "reported_since": time_out(self.reported_since),
            "pending": self.pending.value if self.pending else None,
            "pending_count": self.pending_count,
            "pending_since": time_out(self.pending_since),
            "flaps": [[t.isoformat(), s.value] for t, s in self.flaps],
            "held": self.held,
            "stale": self.stale,
            "recent_ids": self.recent_ids.to_list(),
            "fingerprints": self.fingerprints.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> CITracker:
        d = check_format(data, "CI tracker")
        try:
            return cls(
                ci_id=str(d["ci_id"]),
                state=State(d["state"]),
                state_since=time_in(d["state_since"], "state_since"),
                last_seen=time_in(d["last_seen"], "last_seen"),
                reported=State(d["reported"]) if d["reported"] else None,
                reported_since=time_in(d["reported_since"], "reported_since"),
                pending=State(d["pending"]) if d["pending"] else None,
                pending_count=int(d["pending_count"]),
                pending_since=time_in(d["pending_since"], "pending_since"),
                flaps=[(required_time(t, "flaps"), State(s)) for t, s in d["flaps"]],
                held=bool(d["held"]),
                stale=bool(d["stale"]),
                recent_ids=RecentIds(str(i) for i in d["recent_ids"]),
                fingerprints=FingerprintWindow.from_dict(d["fingerprints"]),
            )
        except StateFormatError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise StateFormatError(f"CI tracker state is malformed: {exc!r}") from None
