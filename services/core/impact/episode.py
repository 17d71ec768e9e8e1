"""The state of one impact episode: from a business service leaving `ok` until it is `ok` again.

`EpisodeState` is an immutable value stored per business service between events. It turns into a
mapping of plain JSON types (`to_dict`) and back (`from_dict`), so a keyed table can hold it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from impactline.core.scoring import ImpactAccrual
from impactline.core.states import State

STATE_FORMAT = 2
"""Bumped when the stored layout changes incompatibly; older layouts are refused by name."""


class EpisodeStateError(ValueError):
    """A stored episode state cannot be read back."""


@dataclass(frozen=True, slots=True)
class CalendarMark:
    """The calendar context an episode last reported, to notice when it changes."""

    calendar: str
    period: str
    weight: float
    active_periods: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """What the open alert and ITSM record of an episode last said, and since when they are
    open (None in states stored before it was kept: the episode's start)."""

    priority: str
    impact: int
    urgency: int
    incident_id: str | None = None
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class Share:
    """Business impact minutes of an episode accrued while the same incidents were charged
    (none: planned work, or no incident explains the impairment)."""

    incident_ids: tuple[str, ...]
    planned: bool
    minutes: float


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """Everything the engine needs to continue an episode.

    Every instant is event time: `accrual.updated_at` is the time of the last impact event
    emitted, and the engine is moved on by the watermark of the partition that holds the
    episode (docs/scoring.md, "Time"). `notice` is what the open alert and ITSM record last said
    (None: neither is open); `notices_sent` numbers their events. `topics` lists every topic
    the episode's impact events have gone to, so its later events (the recovery included)
    reach the same subscribers. `incident_ids` are the incidents charged now (`incident_id` the
    first of them) and `planned_by` the planned work when it alone causes the impact; `shares`
    split the minutes by who was charged when they accrued. `vip_reports` are the VIPs who
    reported a problem during the episode.
    """

    episode_id: str
    service_id: str
    started_at: datetime
    state: State
    cause_ci_id: str
    cause_event_id: str
    correlation_domain: str
    owner_team: str
    accrual: ImpactAccrual
    incident_id: str | None = None
    calendar: CalendarMark | None = None
    priority: str | None = None
    notice: Notice | None = None
    notices_sent: int = 0
    accrual_seq: int = 0
    last_health_id: str | None = None
    topics: tuple[str, ...] = ()
    incident_ids: tuple[str, ...] = ()
    planned_by: str | None = None
    shares: tuple[Share, ...] = ()
    vip_reports: tuple[str, ...] = ()

    @property
    def updated_at(self) -> datetime:
        return self.accrual.updated_at

    @property
    def planned(self) -> bool:
        """Only planned work causes the impact now: nothing pages."""
        return self.planned_by is not None and not self.incident_ids

    @property
    def planned_minutes(self) -> float:
        return sum(share.minutes for share in self.shares if share.planned)

    @property
    def paged_minutes(self) -> float:
        """The minutes an alert or ITSM record reports: all but those of planned work."""
        return max(self.impact_minutes - self.planned_minutes, 0.0)

    def charged(self, minutes: float) -> EpisodeState:
        """Add `minutes` to the share of whoever is charged now. An incident's share (or the
        planned one) is listed from the moment it is charged, at 0 minutes; nobody's share
        only once it holds minutes."""
        key = (self.incident_ids, self.planned)
        shares = list(self.shares)
        for n, share in enumerate(shares):
            if (share.incident_ids, share.planned) == key:
                shares[n] = Share(share.incident_ids, share.planned, share.minutes + minutes)
                break
        else:
            if minutes <= 0 and key == ((), False):
                return self
            shares.append(Share(*key, minutes))
        return replace(self, shares=tuple(shares))

    @property
    def impact_minutes(self) -> float:
        return self.accrual.impact_minutes

    def to_dict(self) -> dict[str, Any]:
        accrual = self.accrual
        mark = self.calendar
        return {
            "v": STATE_FORMAT,
            "episode_id": self.episode_id,
            "service_id": self.service_id,
            "started_at": self.started_at.isoformat(),
            "state": self.state.value,
            "cause_ci_id": self.cause_ci_id,
            "cause_event_id": self.cause_event_id,
            "correlation_domain": self.correlation_domain,
            "owner_team": self.owner_team,
            "accrual": {
                "started_at": accrual.started_at.isoformat(),
                "updated_at": accrual.updated_at.isoformat(),
                "impact_minutes": accrual.impact_minutes,
                "last_rate": accrual.last_rate,
                "peak_rate": accrual.peak_rate,
            },
            "incident_id": self.incident_id,
            "calendar": None
            if mark is None
            else {
                "calendar": mark.calendar,
                "period": mark.period,
                "weight": mark.weight,
                "active_periods": list(mark.active_periods),
            },
            "priority": self.priority,
            "notice": None
            if self.notice is None
            else {
                "priority": self.notice.priority,
                "impact": self.notice.impact,
                "urgency": self.notice.urgency,
                "incident_id": self.notice.incident_id,
                "since": None if self.notice.since is None else self.notice.since.isoformat(),
            },
            "notices_sent": self.notices_sent,
            "accrual_seq": self.accrual_seq,
            "last_health_id": self.last_health_id,
            "topics": list(self.topics),
            "incident_ids": list(self.incident_ids),
            "planned_by": self.planned_by,
            "shares": [
                {"incident_ids": list(s.incident_ids), "planned": s.planned, "minutes": s.minutes}
                for s in self.shares
            ],
            "vip_reports": list(self.vip_reports),
        }

    @classmethod
    def from_dict(cls, data: Any) -> EpisodeState:
        """Read back what `to_dict` wrote; raises `EpisodeStateError` naming the bad field."""
        if not isinstance(data, dict):
            raise EpisodeStateError(f"an episode state is a mapping, got {type(data).__name__}")
        if data.get("v") != STATE_FORMAT:
            raise EpisodeStateError(
                f"episode state has format {data.get('v')!r}; this version reads format "
                f"{STATE_FORMAT}. Rebuild the state by replaying the service-health topic."
            )
        reader = _Reader(data)
        accrual = _Reader(reader.mapping("accrual"), "accrual.")
        mark = reader.optional_mapping("calendar")
        notice = reader.optional_mapping("notice")
        try:
            state = State(reader.text("state"))
        except ValueError:
            raise EpisodeStateError(f"state: {data['state']!r} is not a service state") from None
        return cls(
            episode_id=reader.text("episode_id"),
            service_id=reader.text("service_id"),
            started_at=reader.time("started_at"),
            state=state,
            cause_ci_id=reader.text("cause_ci_id"),
            cause_event_id=reader.text("cause_event_id"),
            correlation_domain=reader.text("correlation_domain"),
            owner_team=reader.text("owner_team"),
            accrual=ImpactAccrual(
                started_at=accrual.time("started_at"),
                updated_at=accrual.time("updated_at"),
                impact_minutes=accrual.number("impact_minutes"),
                last_rate=accrual.number("last_rate"),
                peak_rate=accrual.number("peak_rate"),
            ),
            incident_id=reader.optional_text("incident_id"),
            calendar=None if mark is None else _mark(_Reader(mark, "calendar.")),
            priority=reader.optional_text("priority"),
            notice=None if notice is None else _notice(_Reader(notice, "notice.")),
            notices_sent=reader.count("notices_sent"),
            accrual_seq=reader.count("accrual_seq"),
            last_health_id=reader.optional_text("last_health_id"),
            topics=reader.texts("topics"),
            # Absent from states stored before attribution: read as nothing charged yet.
            incident_ids=reader.texts("incident_ids", ()),
            planned_by=reader.optional_text("planned_by"),
            shares=tuple(
                _share(_Reader(share, f"shares.{n}."))
                for n, share in enumerate(reader.mappings("shares"))
            ),
            vip_reports=reader.texts("vip_reports", ()),
        )


def _mark(reader: _Reader) -> CalendarMark:
    return CalendarMark(
        calendar=reader.text("calendar"),
        period=reader.text("period"),
        weight=reader.number("weight"),
        active_periods=reader.texts("active_periods"),
    )


def _notice(reader: _Reader) -> Notice:
    return Notice(
        priority=reader.text("priority"),
        impact=reader.count("impact"),
        urgency=reader.count("urgency"),
        incident_id=reader.optional_text("incident_id"),
        since=reader.optional_time("since"),
    )


def _share(reader: _Reader) -> Share:
    return Share(
        incident_ids=reader.texts("incident_ids"),
        planned=reader.flag("planned"),
        minutes=reader.number("minutes"),
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


class _Reader:
    """Typed access to a stored mapping; every failure names the field."""

    def __init__(self, data: dict[str, Any], prefix: str = "") -> None:
        self._data = data
        self._prefix = prefix

    def _get(self, key: str) -> Any:
        if key not in self._data:
            raise EpisodeStateError(f"{self._prefix}{key}: missing")
        return self._data[key]

    def _wrong(self, key: str, expected: str) -> EpisodeStateError:
        return EpisodeStateError(
            f"{self._prefix}{key}: expected {expected}, got {self._data.get(key)!r}"
        )

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._wrong(key, "a non-empty string")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self._data.get(key) is None else self.text(key)

    def texts(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if default is not None and key not in self._data:
            return default
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._wrong(key, "a list of strings")
        return tuple(value)

    def mappings(self, key: str) -> list[dict[str, Any]]:
        value = self._data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self._wrong(key, "a list of mappings")
        return value

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false")
        return value

    def optional_time(self, key: str) -> datetime | None:
        return None if self._data.get(key) is None else self.time(key)

    def number(self, key: str) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(key, "a number")
        return float(value)

    def count(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._wrong(key, "a whole number >= 0")
        return value

    def time(self, key: str) -> datetime:
        value = self._get(key)
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise self._wrong(key, "an ISO 8601 timestamp") from None
        if parsed.tzinfo is None:
            raise self._wrong(key, "a timestamp with a time zone offset")
        return _utc(parsed)

    def mapping(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._wrong(key, "a mapping")
        return value

    def optional_mapping(self, key: str) -> dict[str, Any] | None:
        return None if self._data.get(key) is None else self.mapping(key)
