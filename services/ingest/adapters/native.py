"""impactline's own telemetry format: one event, a batch, or newline-delimited JSON.

The body is the `TelemetryEvent` contract itself, so the mapping is the identity:

| input                          | result                                                   |
|--------------------------------|----------------------------------------------------------|
| JSON object                    | one TelemetryEvent; any invalid field raises             |
| JSON array (batch)             | every valid item accepted, every invalid item rejected   |
|                                | by its index; pointers read `/<index>/<field>`           |
| NDJSON (`application/x-ndjson`)| one event per line, same rules as a batch; the pointer   |
|                                | names the 0-based line: `/<line>/<field>`; blank lines   |
|                                | are skipped but still counted                            |

Unknown fields are rejected, so a typo such as `stat` for `state` is caught at the edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from impactline.core.contracts import TelemetryEvent
from impactline.ingest.adapters.errors import AdapterError, pointer
from impactline.ingest.adapters.fields import build, json_type, require_object
from impactline.ingest.adapters.result import Translation

SOURCE = "native"


def parse_event(body: Any, *, base: str = "", received_at: datetime) -> TelemetryEvent:
    """One telemetry event; raises AdapterError naming every invalid field. Without a `time`
    it was observed when it was received."""
    record = require_object(body, base, "a telemetry event object")
    if "time" not in record:
        record = {**record, "time": received_at}
    return build(TelemetryEvent, record, base=base)


def parse_batch(body: Any, *, received_at: datetime) -> Translation[TelemetryEvent]:
    """A JSON array of events: valid items accepted, invalid ones rejected by index."""
    if not isinstance(body, list):
        raise AdapterError("", f"expected a JSON array of events, got {json_type(body)}")
    if not body:
        raise AdapterError("", "the batch holds no events")
    out: Translation[TelemetryEvent] = Translation()
    for index, item in enumerate(body):
        try:
            out.accepted.append(parse_event(item, base=pointer(index), received_at=received_at))
        except AdapterError as err:
            out.reject(index, err, item)
    return out


def translate(body: Any, *, received_at: datetime) -> Translation[TelemetryEvent]:
    """An object is one event (raises when invalid), an array a batch (rejects per item)."""
    if isinstance(body, list):
        return parse_batch(body, received_at=received_at)
    return Translation(accepted=[parse_event(body, received_at=received_at)])


def parse_ndjson(data: bytes, *, received_at: datetime) -> Translation[TelemetryEvent]:
    """Newline-delimited JSON, one event per line; each bad line is rejected by its index."""
    out: Translation[TelemetryEvent] = Translation()
    seen = 0
    for index, raw in enumerate(data.split(b"\n")):
        line = raw.strip()
        if not line:
            continue
        seen += 1
        try:
            item = _decode_line(line, index)
            out.accepted.append(parse_event(item, base=pointer(index), received_at=received_at))
        except AdapterError as err:
            out.reject(index, err, raw)
    if not seen:
        raise AdapterError("", "the NDJSON body holds no events")
    return out


def _decode_line(line: bytes, index: int) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(pointer(index), f"line is not valid JSON: {exc}") from None
