"""Change records from CI/CD pipelines and change tooling -> ChangeEvents.

A record (the body, or each item of a JSON array of records):

```json
{
  "ci_ids": ["app-gl-01", "app-gl-02"],
  "kind": "deployment",
  "summary": "gl-ledger 4.2.1: faster period-close queries",
  "author": "jane.doe",
  "reference": "https://ci.example.com/finance/gl-ledger/pipelines/8812",
  "time": "2026-11-30T07:45:00Z",
  "source": "gitlab-ci"
}
```

| field               | required | meaning                                                  |
|---------------------|----------|----------------------------------------------------------|
| `ci_id` or `ci_ids` | one      | the CI changed, or several; one ChangeEvent per CI       |
| `kind`              | no       | `deployment` (default), `configuration`,                 |
|                     |          | `infrastructure`, `other`                                |
| `summary`           | no       | what changed, in a sentence                              |
| `author`            | no       | who made or approved the change                          |
| `reference`         | no       | pipeline run, ticket or commit URL; `pipeline_url` is    |
|                     |          | accepted as another name for it                          |
| `time`              | no       | RFC 3339 with offset; defaults to when ingest received it|
| `id`                | no       | the change's own id; with several CIs each event gets an |
|                     |          | id derived from it and the CI                            |
| `source`            | no       | the reporting system; default `pipeline`                 |
| `assessment`        | no       | the planned change's risk assessment: the answer of      |
|                     |          | `POST /v1/changes/assess` as it is, or just its figures  |
|                     |          | (`start`, `end`, `worst_case_business_impact_minutes`,   |
|                     |          | `expected_business_impact_minutes`, optional `risk`,     |
|                     |          | `periods`, `users_affected`, `worst_priority`,           |
|                     |          | `assessed_at`, `catalog_version`); only those are kept   |

Without an `id`, the event id is derived from CI, kind, time, reference and summary, so a
pipeline that retries its webhook produces duplicates that idempotent sinks drop. Unknown fields
are rejected so a misspelt field is not silently ignored; in `assessment`, the other fields of
an assessment answer (the simulation, the options) are accepted and dropped, anything else is
rejected. The assessment is the client's: ingest checks its shape, not its figures, and does not
recompute it (that needs the catalog and the calendars, and the board decided on the figures it
saw).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from impactline.core.contracts import ChangeAssessmentSummary, ChangeEvent, ChangeKind
from impactline.core.whatif.documents import ChangeAssessmentDoc
from impactline.ingest.adapters.errors import AdapterError, join, pointer
from impactline.ingest.adapters.fields import (
    build,
    json_type,
    optional_timestamp,
    require_object,
    stable_id,
    text,
)
from impactline.ingest.adapters.result import Translation

SOURCE = "pipeline"
FIELDS = (
    "id",
    "ci_id",
    "ci_ids",
    "kind",
    "summary",
    "author",
    "reference",
    "pipeline_url",
    "time",
    "source",
    "assessment",
)
KINDS = tuple(k.value for k in ChangeKind)


def translate(body: Any, *, received_at: datetime) -> Translation[ChangeEvent]:
    """A record (invalid raises) or an array of records (invalid ones rejected by index)."""
    if not isinstance(body, list):
        return Translation(accepted=parse_record(body, received_at=received_at))
    if not body:
        raise AdapterError("", "the batch holds no change records")
    out: Translation[ChangeEvent] = Translation()
    for index, item in enumerate(body):
        try:
            out.accepted.extend(parse_record(item, base=pointer(index), received_at=received_at))
        except AdapterError as err:
            out.reject(index, err, item)
    return out


def parse_record(body: Any, *, base: str = "", received_at: datetime) -> list[ChangeEvent]:
    """One change record: one ChangeEvent per CI it names."""
    record = require_object(body, base, "a change record object")
    for name in record:
        if name not in FIELDS:
            raise AdapterError(
                join(base, name), f"unknown field; a change record has {', '.join(FIELDS)}"
            )
    targets = _targets(record, base)
    kind = _kind(record, base)
    reference = _reference(record, base)
    when = optional_timestamp(record, "time", base) or received_at
    summary = text(record, "summary", base) or ""
    given_id = text(record, "id", base, required="id" in record)
    common = {
        "kind": kind,
        "time": when,
        "summary": summary,
        "author": text(record, "author", base),
        "reference": reference[1],
        "source": text(record, "source", base) or SOURCE,
        "assessment": _assessment(record, base),
    }
    events = []
    for ci_ptr, ci_id in targets:
        if given_id is not None:
            event_id = given_id if len(targets) == 1 else stable_id(given_id, ci_id)
        else:
            event_id = stable_id(SOURCE, ci_id, kind, when.isoformat(), reference[1] or "", summary)
        sources = {"ci_id": ci_ptr, "reference": reference[0]}
        events.append(
            build(
                ChangeEvent, {**common, "id": event_id, "ci_id": ci_id}, base=base, sources=sources
            )
        )
    return events


def _targets(record: dict[str, Any], base: str) -> list[tuple[str, str]]:
    """(pointer, CI id) for every CI the record names."""
    if "ci_id" in record and "ci_ids" in record:
        raise AdapterError(join(base, "ci_ids"), "give either ci_id or ci_ids, not both")
    if "ci_id" in record:
        return [(join(base, "ci_id"), text(record, "ci_id", base, required=True) or "")]
    if "ci_ids" not in record:
        raise AdapterError(join(base, "ci_id"), "required field is missing (or give ci_ids)")
    items = record["ci_ids"]
    ptr = join(base, "ci_ids")
    if not isinstance(items, list):
        raise AdapterError(ptr, f"expected an array of CI ids, got {json_type(items)}")
    if not items:
        raise AdapterError(ptr, "names no CI; give at least one CI id")
    targets = []
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise AdapterError(join(ptr, index), f"expected a string, got {json_type(item)}")
        targets.append((join(ptr, index), item))
    return targets


def _kind(record: dict[str, Any], base: str) -> str:
    kind = text(record, "kind", base)
    if kind is None:
        return ChangeKind.DEPLOYMENT.value
    if kind not in KINDS:
        raise AdapterError(join(base, "kind"), f"must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind


def _reference(record: dict[str, Any], base: str) -> tuple[str, str | None]:
    """(pointer, value) of the change's reference, from either accepted name."""
    if "reference" in record and "pipeline_url" in record:
        raise AdapterError(
            join(base, "pipeline_url"), "give either reference or pipeline_url, not both"
        )
    name = "pipeline_url" if "pipeline_url" in record else "reference"
    return join(base, name), text(record, name, base)


KEPT = tuple(ChangeAssessmentSummary.model_fields)
# The rest of an assessment answer: accepted so the answer can be passed along, not kept.
DROPPED = frozenset(ChangeAssessmentDoc.model_fields) - set(KEPT)


def _assessment(record: dict[str, Any], base: str) -> ChangeAssessmentSummary | None:
    if record.get("assessment") is None:
        return None
    ptr = join(base, "assessment")
    given = require_object(record["assessment"], ptr, "an assessment object")
    for name in given:
        if name not in KEPT and name not in DROPPED:
            raise AdapterError(
                join(ptr, name), f"unknown field; an assessment has {', '.join(KEPT)}"
            )
    kept = {name: value for name, value in given.items() if name in KEPT}
    return build(ChangeAssessmentSummary, kept, base=ptr)
