"""User feedback about a business service (surveys, in-app ratings) -> FeedbackEvents.

A record (the body, or each item of a JSON array of records):

```json
{
  "service_id": "financial-close",
  "csat": 2,
  "comment": "Posting journals took ages this morning",
  "user_id": "u-20431",
  "time": "2026-11-30T09:40:00+01:00",
  "id": "survey-7781-u-20431",
  "source": "in-app-survey"
}
```

| field        | required | meaning                                                          |
|--------------|----------|------------------------------------------------------------------|
| `service_id` | yes      | the business service the feedback is about                       |
| `csat`       | one of   | satisfaction, a whole number from 1 (very unhappy) to 5          |
| `comment`    | the two  | free text, up to 5000 characters                                 |
| `user_id`    | no       | who said it (enables VIP weighting downstream)                   |
| `time`       | no       | RFC 3339 with offset; defaults to when ingest received it        |
| `id`         | no       | the response's own id; send it so a retried submission is a      |
|              |          | duplicate, otherwise every submission gets a fresh id            |
| `source`     | no       | the survey or channel; default `feedback`                        |

Feedback without a score and without a comment says nothing and is rejected, as are unknown
fields. Ids are not derived from content: two users may well give the same score at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from impactline.core.contracts import FeedbackEvent, new_id
from impactline.ingest.adapters.errors import AdapterError, join, pointer
from impactline.ingest.adapters.fields import (
    build,
    json_type,
    optional_timestamp,
    require_object,
    text,
)
from impactline.ingest.adapters.result import Translation

SOURCE = "feedback"
FIELDS = ("id", "service_id", "csat", "comment", "user_id", "time", "source")
CSAT_MIN, CSAT_MAX = 1, 5


def translate(body: Any, *, received_at: datetime) -> Translation[FeedbackEvent]:
    """A record (invalid raises) or an array of records (invalid ones rejected by index)."""
    if not isinstance(body, list):
        return Translation(accepted=[parse_record(body, received_at=received_at)])
    if not body:
        raise AdapterError("", "the batch holds no feedback")
    out: Translation[FeedbackEvent] = Translation()
    for index, item in enumerate(body):
        try:
            out.accepted.append(parse_record(item, base=pointer(index), received_at=received_at))
        except AdapterError as err:
            out.reject(index, err, item)
    return out


def parse_record(body: Any, *, base: str = "", received_at: datetime) -> FeedbackEvent:
    record = require_object(body, base, "a feedback object")
    for name in record:
        if name not in FIELDS:
            raise AdapterError(join(base, name), f"unknown field; feedback has {', '.join(FIELDS)}")
    service_id = text(record, "service_id", base, required=True)
    csat = _csat(record.get("csat"), join(base, "csat"))
    comment = text(record, "comment", base)
    if csat is None and not (comment and comment.strip()):
        raise AdapterError(base, "feedback needs a csat score (1-5) or a comment")
    data = {
        "id": text(record, "id", base, required="id" in record) or new_id(),
        "service_id": service_id,
        "time": optional_timestamp(record, "time", base) or received_at,
        "csat": csat,
        "comment": comment,
        "user_id": text(record, "user_id", base),
        "source": text(record, "source", base) or SOURCE,
    }
    return build(FeedbackEvent, data, base=base)


def _csat(value: Any, ptr: str) -> int | None:
    if value is None:
        return None
    # JSON true is a Python int; a score must be a number someone chose.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdapterError(ptr, f"expected a whole number from 1 to 5, got {json_type(value)}")
    if not CSAT_MIN <= value <= CSAT_MAX:
        raise AdapterError(ptr, f"must be from {CSAT_MIN} to {CSAT_MAX}; got {value}")
    return value
