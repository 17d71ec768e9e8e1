"""A `DomainCorrelator` as the plain, JSON-compatible dict a keyed table stores, and back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from impactline.core.contracts import SuspectChange
from impactline.core.correlation.attribution import Attribution
from impactline.core.correlation.incident import Incident
from impactline.core.correlation.records import FailureRecord
from impactline.core.correlation.serial import StateFormatError, check_format, time_in, time_out

if TYPE_CHECKING:
    from impactline.core.correlation.domain import DomainCorrelator


def stored_state(correlator: DomainCorrelator) -> dict[str, Any]:
    return {
        "v": 1,
        "domain": correlator.domain,
        "clock": time_out(correlator.clock),
        "cis": {ci: record.to_dict() for ci, record in sorted(correlator.cis.items())},
        "incidents": [i.to_dict() for i in correlator.incidents.values()],
        "changes": [c.model_dump(mode="json") for c in correlator.changes],
        "attributions": {s: a.to_dict() for s, a in sorted(correlator.attributions.items())},
    }


def stored_fields(data: Any) -> dict[str, Any]:
    """The constructor arguments of the correlator `stored_state` wrote; a state of another
    layout raises `StateFormatError` saying to rebuild it."""
    d = check_format(data, "correlation domain")
    try:
        incidents = [Incident.from_dict(i) for i in d["incidents"]]
        return {
            "domain": str(d["domain"]),
            "cis": {ci: FailureRecord.from_dict(r) for ci, r in d["cis"].items()},
            "incidents": {i.id: i for i in incidents},
            "changes": [SuspectChange.model_validate(c) for c in d["changes"]],
            "clock": time_in(d["clock"], "clock"),
            # absent from states stored before attributions were published
            "attributions": {
                s: Attribution.from_dict(a) for s, a in d.get("attributions", {}).items()
            },
        }
    except StateFormatError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise StateFormatError(
            f"correlation domain state is incomplete or malformed: {exc!r}"
        ) from None
